"""Settings: defaults, one-line errors that name the variable, secrets kept out of sight."""

from __future__ import annotations

import pytest

from bot.settings import Settings, SettingsError, load_settings

CLEAN = {"_env_file": None}


def test_defaults_run_on_sqlite_and_the_sandbox(monkeypatch):
    for name in ("TELEGRAM_BOT_TOKEN", "AUTHY_API_KEY", "TWILIO_ACCOUNT_SID", "DATABASE_URL", "PORT"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings(**CLEAN)
    assert settings.database_url == "sqlite:///payfriend.db"
    assert (settings.port, settings.fallback_seconds, settings.payment_expiry_seconds) == (5000, 15, 1200)
    assert settings.uses_sandbox


@pytest.mark.parametrize("name, value, accepts", [
    ("PORT", "abc", "PORT: expected a TCP port"),
    ("FALLBACK_SECONDS", "-1", "FALLBACK_SECONDS: expected seconds > 0"),
    ("AUTHENTICATOR", "okta", "AUTHENTICATOR: expected authy or verify"),
    ("TWILIO_ACCOUNT_SID", "AC123", "TWILIO_ACCOUNT_SID: expected AC followed by 32 hex digits"),
    ("DEFAULT_CURRENCY", "dollars", "DEFAULT_CURRENCY: expected an ISO 4217 code"),
    ("PUBLIC_URL", "not a url", "PUBLIC_URL: expected the https:// address"),
    ("SCA_LOW_VALUE_EXEMPTION", "maybe", "SCA_LOW_VALUE_EXEMPTION: expected true or false"),
])
def test_a_wrong_value_is_one_line_naming_the_variable(monkeypatch, name, value, accepts):
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as error:
        load_settings(**CLEAN)
    message = str(error.value)
    assert message.startswith(accepts) and "\n" not in message
    assert value not in message  # no echo of what may be a secret


def test_real_credentials_need_public_url_and_secret_key(monkeypatch):
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123:token")
    monkeypatch.setenv("AUTHY_API_KEY", "key")
    with pytest.raises(SettingsError, match="^PUBLIC_URL: required with real credentials"):
        load_settings(**CLEAN)


def test_secrets_never_show_in_repr_or_dump():
    settings = Settings(_env_file=None, telegram_bot_token="123:very-secret", authy_api_key="authy-secret",
                        twilio_auth_token="twilio-secret", secret_key="signing-secret")
    shown = repr(settings) + str(settings.model_dump())
    for secret in ("very-secret", "authy-secret", "twilio-secret", "signing-secret"):
        assert secret not in shown


def test_empty_variables_count_as_unset(monkeypatch):
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "")
    monkeypatch.setenv("PUBLIC_URL", "")
    assert load_settings(**CLEAN).uses_sandbox


def test_rates_table_is_parsed_as_decimals():
    rates = Settings(_env_file=None, eur_rates="EUR=1,USD=0.5").rates_to_eur()
    assert {k: str(v) for k, v in rates.items()} == {"EUR": "1", "USD": "0.5"}
