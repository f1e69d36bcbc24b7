"""Where a request comes from: its client address, and the anonymous key of its network.

The address is the connection's (``REMOTE_ADDR``) unless the site is behind ``DIGITS_NUM_PROXIES`` reverse proxies,
when it is the one the nearest of them saw (from ``X-Forwarded-For``, as DRF's throttles read it); with no proxy the
header is ignored, since any client can write it. The rate limits and the admin's login lock-out (django-axes) both
use it.

The *network key* stored with each submission is a salted hash of the address's network: its /24 for IPv4, its /64
for IPv6 (what one household, school router or phone usually gets). It tells staff that many clients' corrections
came from one network, without storing an address: the salt is secret (``DIGITS_NETWORK_SALT``, by default derived
from ``SECRET_KEY``), so a key cannot be turned back into a network by trying all 16 million /24s.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress

from django.conf import settings

#: The prefix lengths that make a network: IPv4 /24, IPv6 /64.
PREFIXES = {4: 24, 6: 64}
KEY_LENGTH = 16


def client_address(request) -> str:
    """The client's address (see the module), or ``""`` when there is none."""
    request = getattr(request, "_request", request)
    remote = request.META.get("REMOTE_ADDR", "") or ""
    proxies = settings.REST_FRAMEWORK.get("NUM_PROXIES") or 0
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR")
    if proxies and forwarded:
        addresses = [a.strip() for a in forwarded.split(",") if a.strip()]
        if addresses:
            return addresses[-min(proxies, len(addresses))]
    return remote


def network_of(address: str) -> str:
    """The network an address belongs to, as text (``203.0.113.0/24``), or ``""`` for no valid address."""
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return ""
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return str(ipaddress.ip_network(f"{ip}/{PREFIXES[ip.version]}", strict=False))


def _salt() -> bytes:
    salt = settings.DIGITS_NETWORK_SALT or f"digits.network:{settings.SECRET_KEY}"
    return salt.encode()


def network_key(address: str) -> str:
    """The anonymous key of an address's network: 16 hex characters of a keyed hash; ``""`` without an address."""
    network = network_of(address)
    if not network:
        return ""
    return hmac.new(_salt(), network.encode(), hashlib.sha256).hexdigest()[:KEY_LENGTH]


def request_network_key(request) -> str:
    return network_key(client_address(request))
