"""Notifications to Slack, PagerDuty, Alertmanager, signed webhooks and e-mail, sent in the background."""

from gitopsd.edges.notifications.dispatch import Dispatcher

__all__ = ["Dispatcher"]
