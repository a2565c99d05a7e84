"""The digest's settings: when it is posted, over how many days, in which time zone."""
from __future__ import annotations

from zoneinfo import ZoneInfo

from croniter import croniter
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.config import check_timezone


class DigestSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

    tandem_digest_cron: str = Field("0 9 * * 1", description="when the digest is posted, local time (cron)")
    tandem_digest_days: int = Field(7, ge=1, le=366, description="days the digest covers")
    tandem_digest_catchup_hours: int = Field(
        24, ge=0, le=168, description="a digest missed while Tandem was down is posted at start-up if this recent")
    tandem_timezone: str = "UTC"
    tandem_handoff_threshold: float = Field(0.45, ge=0.0, le=1.0)

    @field_validator("tandem_digest_cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        value = " ".join(value.split())
        if len(value.split()) != 5 or not croniter.is_valid(value):
            raise ValueError("must be a 5-field cron expression such as '0 9 * * 1' (Monday 09:00)")
        return value

    @field_validator("tandem_timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        return check_timezone(value)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tandem_timezone)
