"""Lyra's one typed settings object (:class:`Settings`, prefix ``LYRA_``) and the one way
to load it (:func:`load_settings`), at an entry point: the CLI or a flow."""

from lyra.config.loading import load_settings
from lyra.config.settings import ENV_PREFIX, Settings

__all__ = ["ENV_PREFIX", "Settings", "load_settings"]
