"""紧急警情转交 as the command center sees it: the hand-offs to 110/119/120/122 still awaiting acknowledgement."""
