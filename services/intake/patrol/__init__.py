"""未诉先办 patrol tasks for grid workers: opened from analytics' hot spots, done with a result in the grid API."""
