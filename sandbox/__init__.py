"""Local stand-ins for Telegram, Twilio and Authy, and a phone page: the outside world over HTTP.

Imports nothing from bot/, webhooks/ or models/.
"""
