"""Talking to the Conversations API: the connection, filters and their wire names, answers, retries and pacing."""
