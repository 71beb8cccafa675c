"""The fee-schedule simulator pages: HQ drafts royalty plans and sees what they would have charged."""
