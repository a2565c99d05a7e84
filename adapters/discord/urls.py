"""Where one Discord client connects: Discord itself, a proxy, or the test fake (DISCORD_API_URL and
DISCORD_GATEWAY_URL), rewritten on that client's own objects so two clients can point at two places."""
from __future__ import annotations

from typing import Any

import discord
import yarl
from discord.gateway import DiscordWebSocket
from discord.webhook.async_ import AsyncWebhookAdapter

from adapters.discord.config import DEFAULT_API_URL



class BaseURLs:
    """Points one client at Discord, a proxy or the test fake. Its REST calls and its gateway connection are
    rewritten on that client's own HTTP object, and its interaction answers (which discord.py sends through
    the webhook adapter of the current context) by a webhook adapter set in the client's own task context;
    no discord.py class attribute is changed for the process, so two clients can point at two places."""

    def __init__(self, api_url: str | None, gateway_url: str | None) -> None:
        self.api = (api_url or DEFAULT_API_URL).rstrip("/")
        self.gateway = gateway_url or ""

    def rebase(self, route: discord.http.Route) -> discord.http.Route:
        default_api = discord.http.Route.BASE
        if self.api != default_api and route.url.startswith(default_api):
            route.url = self.api + route.url[len(default_api):]
        return route

    def apply(self, http: discord.http.HTTPClient) -> None:
        request, ws_connect = http.request, http.ws_connect
        default_gateway = str(DiscordWebSocket.DEFAULT_GATEWAY)

        async def rebased_request(route: discord.http.Route, **kwargs: Any) -> Any:
            return await request(self.rebase(route), **kwargs)

        async def rebased_ws_connect(url: str, **kwargs: Any) -> Any:
            if self.gateway and url.startswith(default_gateway):
                url = str(yarl.URL(self.gateway).with_query(yarl.URL(url).query))
            return await ws_connect(url, **kwargs)

        http.request = rebased_request  # type: ignore[method-assign]
        http.ws_connect = rebased_ws_connect  # type: ignore[method-assign]

    def webhook_adapter(self) -> AsyncWebhookAdapter:
        urls = self

        class Rebased(AsyncWebhookAdapter):
            async def request(self, route: discord.http.Route, session: Any, **kwargs: Any) -> Any:
                return await super().request(urls.rebase(route), session, **kwargs)

        return Rebased()
