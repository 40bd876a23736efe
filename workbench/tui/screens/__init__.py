"""The app's screens besides the main one: help, inspector, profile form, confirm, editor host.

Each is imported when it is first opened, so the app's start does not pay for them.
"""
