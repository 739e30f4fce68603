"""Groups of subcommands of ``opdsim``, each registered on the app by its module's ``register``."""
