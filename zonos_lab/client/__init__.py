"""Clients of the Zonos 2 gateway (and of the offline emulator): sync and async, one shared core.

Example:
    >>> from zonos_lab.client import ZonosClient, ExponentialPollPolicy
    >>> ExponentialPollPolicy(jitter=0).delay(0, 2.0)
    2.0
"""

from zonos_lab.client._core import DEFAULT_BASE_URL, parse_retry_after
from zonos_lab.client._redact import KeyRedactor
from zonos_lab.client.async_ import AsyncZonosClient
from zonos_lab.client.models import Job, JobOutput, JobStatus
from zonos_lab.client.policy import ExponentialPollPolicy, PollPolicy, backoff
from zonos_lab.client.sync import ZonosClient

__all__ = ["DEFAULT_BASE_URL", "AsyncZonosClient", "ExponentialPollPolicy", "Job", "JobOutput", "JobStatus",
           "KeyRedactor", "PollPolicy", "ZonosClient", "backoff", "parse_retry_after"]
