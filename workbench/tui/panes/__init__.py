"""The three panes of the main screen: profiles (left), images (centre), operations (bottom)."""
