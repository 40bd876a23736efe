"""The Textual application: panes, editors, widgets."""
