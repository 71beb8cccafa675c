"""The partner-facing portal: a franchisee sees and acts on its own sites only."""
