"""Vendor adapters: the only code that imports telegram, twilio or authy."""
