"""Brand-health scoring as plain Python: periods, open hours, measures, NPS, composite, cards.

No web and no database here: the service hands in per-slot aggregates and
counts, these modules hand back values with every input that explains them.
"""
