"""Delivering an alert: a Slack incoming webhook and e-mail, per tenant, else the machine's route.

`dagster-slack`'s failure sensor builds its `slack_sdk.WebClient` with the token alone: it
cannot be pointed at another base URL (a proxy, a test sink), and it needs a bot token per
workspace. We post to the tenant's incoming webhook with `slack_sdk`'s `WebhookClient` (the
client dagster-slack itself wraps), and send mail with the standard library's `smtplib`
(Dagster's e-mail sensor speaks SSL or STARTTLS only, not a plain relay on localhost).

Machine settings (`BRIDGE_ALERTS_*`, `BRIDGE_SMTP_*`): the default routes for a tenant without
its own, or for a tenant file that does not load, the SMTP relay, and the UI's URL for links.
A failed delivery is logged (redacted), never raised: an alert must not fail the sensor that
noticed the problem.
"""

import logging
import smtplib
from dataclasses import dataclass, field
from email.message import EmailMessage

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from bridge_pipelines.redaction import redact
from bridge_pipelines.tenants.models import TenantConfig
from bridge_pipelines.tenants.secrets import Keyring

log = logging.getLogger(__name__)
TIMEOUT_S = 10.0


class AlertSettings(BaseSettings):
    """The machine's alert routes and relay (environment, never a tenant file)."""

    model_config = SettingsConfigDict(env_prefix="BRIDGE_", frozen=True)

    alerts_slack_webhook_url: SecretStr | None = None
    alerts_email_to: str = ""
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_starttls: bool = False
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str = "bridge@localhost"
    ui_url: str = "http://127.0.0.1:3000"


@dataclass(frozen=True)
class Alert:
    """One alert: who it is about, what, how many, and where to act."""

    tenant: str
    what: str
    count: int
    act: str
    detail: str = ""
    links: tuple[str, ...] = ()

    @property
    def subject(self) -> str:
        return f"[bridge] {self.tenant}: {self.what} ({self.count})"

    @property
    def text(self) -> str:
        lines = [f"tenant {self.tenant}: {self.what} ({self.count})"]
        if self.detail:
            lines.append(self.detail)
        lines.append(f"act: {self.act}")
        lines.extend(self.links)
        return "\n".join(lines)


@dataclass
class Route:
    """Where one tenant's alerts go."""

    slack_webhook_url: str | None = None
    email_to: tuple[str, ...] = ()
    sent: list[str] = field(default_factory=list)


def route_for(tenant: TenantConfig | None, keyring: Keyring | None) -> Route:
    """The tenant's own routes, each falling back to the machine's."""
    settings = AlertSettings()
    webhook = (
        settings.alerts_slack_webhook_url.get_secret_value()
        if settings.alerts_slack_webhook_url
        else None
    )
    emails = tuple(a.strip() for a in settings.alerts_email_to.split(",") if a.strip())
    if tenant is not None:
        if tenant.alerts.slack_webhook_url and keyring is not None:
            webhook = keyring.decrypt(
                tenant.id, "alerts.slack_webhook_url", tenant.alerts.slack_webhook_url
            ).get_secret_value()
        emails = tenant.alerts.email_to or emails
    return Route(slack_webhook_url=webhook, email_to=emails)


def send(alert: Alert, route: Route) -> list[str]:
    """Deliver to every channel of the route; returns the channels that took it."""
    delivered: list[str] = []
    if route.slack_webhook_url:
        from slack_sdk.webhook import WebhookClient

        try:
            response = WebhookClient(route.slack_webhook_url, timeout=int(TIMEOUT_S)).send(
                text=alert.text
            )
            if response.status_code == 200:
                delivered.append("slack")
            else:
                log.warning("slack alert for %s: HTTP %s", alert.tenant, response.status_code)
        except Exception as exc:
            log.warning("slack alert for %s not delivered: %s", alert.tenant, redact(str(exc)))
    if route.email_to:
        try:
            _mail(alert, route.email_to)
            delivered.append("email")
        except Exception as exc:
            log.warning("e-mail alert for %s not delivered: %s", alert.tenant, redact(str(exc)))
    return delivered


def _mail(alert: Alert, to: tuple[str, ...]) -> None:
    settings = AlertSettings()
    if not settings.smtp_host:
        raise RuntimeError("BRIDGE_SMTP_HOST is not set")
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = ", ".join(to)
    message["Subject"] = alert.subject
    message.set_content(alert.text)
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=TIMEOUT_S) as smtp:
        if settings.smtp_starttls:
            smtp.starttls()
        if settings.smtp_user and settings.smtp_password:
            smtp.login(settings.smtp_user, settings.smtp_password.get_secret_value())
        smtp.send_message(message)
