"""Payfriend: a conversational payments bot with strong customer authentication."""
