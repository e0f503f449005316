"""One Settings object, read from the environment and `.env`; a wrong value stops the program."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class SettingsError(Exception):
    """A setting has a wrong value; the message is one line naming it and what it accepts."""


class Settings(BaseSettings):
    """Everything Payfriend can be configured with; see .env.example."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore",
                                      case_sensitive=False)

    database_url: str = Field("sqlite:///payfriend.db", description="a SQLAlchemy URL")
    port: int = Field(5000, ge=0, le=65535, description="a TCP port, 0-65535 (0: any free port)")
    fallback_seconds: float = Field(15, gt=0, le=3600, description="seconds > 0 and <= 3600")
    payment_expiry_seconds: float = Field(1200, gt=0, le=86400, description="seconds > 0 and <= 86400")
    push_limit: int = Field(3, ge=1, le=100, description="a whole number from 1 to 100")
    push_limit_minutes: float = Field(10, gt=0, le=1440, description="minutes > 0 and <= 1440")
    lock_hours: float = Field(24, gt=0, le=720, description="hours > 0 and <= 720")
    phone_codes_per_hour: int = Field(3, ge=1, le=100, description="a whole number from 1 to 100")
    telegram_bot_token: SecretStr | None = None
    telegram_mode: Literal["polling", "webhook"] = Field("polling", description="polling or webhook")
    telegram_webhook_secret: SecretStr | None = None
    authy_api_key: SecretStr | None = None
    twilio_account_sid: str | None = Field(None, pattern=r"^AC[0-9a-fA-F]{32}$",
                                           description="AC followed by 32 hex digits")
    twilio_auth_token: SecretStr | None = None
    twilio_phone_number: str | None = Field(None, pattern=r"^\+[1-9][0-9]{6,14}$",
                                            description="an E.164 number such as +15005550006")
    twilio_verify_service_sid: str | None = Field(None, pattern=r"^VA[0-9a-fA-F]{32}$",
                                                  description="VA followed by 32 hex digits")
    twilio_verify_phone_service_sid: str | None = Field(None, pattern=r"^VA[0-9a-fA-F]{32}$",
                                                        description="VA followed by 32 hex digits")
    authenticator: Literal["authy", "verify"] = Field("authy", description="authy or verify")
    public_url: str | None = Field(None, pattern=r"^https?://[^\s/]+(/[^\s]*)?$",
                                   description="the https:// address the services call back")
    secret_key: SecretStr | None = None
    default_currency: str = Field("USD", pattern=r"^[A-Z]{3}$", description="an ISO 4217 code such as USD")
    max_payment_amount: Decimal = Field(Decimal("1000"), gt=0, description="a positive amount in major units")
    sca_low_value_exemption: bool = Field(False, description="true or false")
    eur_rates: str = Field("EUR=1,USD=0.92,GBP=1.17,CHF=1.05,JPY=0.0061",
                           pattern=r"^[A-Z]{3}=[0-9.]+(,[A-Z]{3}=[0-9.]+)*$",
                           description="CODE=rate pairs (value of one unit in EUR), comma separated")
    http_timeout_seconds: float = Field(5, gt=0, le=60, description="seconds > 0 and <= 60")
    sandbox_port: int = Field(5050, ge=1, le=65535, description="a TCP port, 1-65535")
    sandbox_url: str | None = Field(None, pattern=r"^https?://\S+$",
                                    description="the address of a running sandbox, http://host:port")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO",
                                                                     description="DEBUG, INFO, WARNING or ERROR")

    @field_validator("*", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        """Treat an empty variable (FOO=) as unset, as .env.example leaves them."""
        return None if value == "" else value

    @property
    def uses_sandbox(self) -> bool:
        """True when no real service credentials are set: run against the local sandbox."""
        return self.telegram_bot_token is None and self.authy_api_key is None and self.twilio_account_sid is None

    def rates_to_eur(self) -> dict[str, Decimal]:
        """The configured conversion table: currency code -> value of one unit in EUR."""
        pairs = (item.split("=", 1) for item in self.eur_rates.split(","))
        return {code: Decimal(rate) for code, rate in pairs}


def load_settings(**overrides: object) -> Settings:
    """Read the settings; on a wrong value raise SettingsError with one line for the first problem."""
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise SettingsError(_describe(exc)) from None
    _check_combinations(settings)
    return settings


def _describe(exc: ValidationError) -> str:
    error = exc.errors()[0]
    name = str(error["loc"][0]) if error["loc"] else "settings"
    field = Settings.model_fields.get(name)
    accepts = field.description if field is not None and field.description else error["msg"]
    return f"{name.upper()}: expected {accepts}"


def _check_combinations(settings: Settings) -> None:
    if settings.uses_sandbox:
        return
    needed: list[str] = []
    if settings.telegram_bot_token is None and settings.twilio_phone_number is None:
        needed.append("TELEGRAM_BOT_TOKEN or TWILIO_PHONE_NUMBER")
    if settings.authenticator == "authy" and settings.authy_api_key is None:
        needed.append("AUTHY_API_KEY (AUTHENTICATOR=authy)")
    if settings.authenticator == "verify" and settings.twilio_verify_service_sid is None:
        needed.append("TWILIO_VERIFY_SERVICE_SID (AUTHENTICATOR=verify)")
    if (settings.twilio_account_sid is None) != (settings.twilio_auth_token is None):
        needed.append("TWILIO_ACCOUNT_SID together with TWILIO_AUTH_TOKEN")
    if settings.public_url is None:
        needed.append("PUBLIC_URL (where the services call back)")
    if settings.secret_key is None:
        needed.append("SECRET_KEY (signs payment fingerprints)")
    if needed:
        raise SettingsError(f"{needed[0].split(' ')[0]}: required with real credentials: set {needed[0]}")
