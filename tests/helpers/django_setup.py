"""Django for the tests, configured once per process (``settings.configure`` runs only once).

The settings point ``ROOT_URLCONF`` at :data:`URLCONF`, a module the Django tests build and put
in ``sys.modules`` themselves; other tests override it with ``override_settings``.
"""

from __future__ import annotations

__all__ = ["PAGE", "URLCONF", "configure_django"]

URLCONF = "gatewayerrors_test_django_urls"
PAGE = "<p id=code>{{ code }}</p><p id=status>{{ status }}</p><p id=path>{{ request.path }}</p>"
"""The project's ``502.html`` template."""


def configure_django() -> None:
    """Configure Django and set it up, unless this process already did."""
    from django.conf import settings

    if settings.configured:
        assert settings.ROOT_URLCONF == URLCONF, "Django was configured by someone else"
        return
    settings.configure(
        DEBUG=False,
        ALLOWED_HOSTS=["*"],
        SECRET_KEY="gatewayerrors-tests-" + "x" * 40,
        ROOT_URLCONF=URLCONF,
        INSTALLED_APPS=["rest_framework"],
        MIDDLEWARE=[
            "gatewayerrors.django.GatewayErrorsMiddleware",
            "django.middleware.common.CommonMiddleware",
        ],
        GATEWAYERRORS={"service": "catalog"},
        TEMPLATES=[
            {
                "BACKEND": "django.template.backends.django.DjangoTemplates",
                "OPTIONS": {
                    "loaders": [
                        (
                            "django.template.loaders.locmem.Loader",
                            {"502.html": PAGE, "heading.html": "<h1>{{ heading }}</h1>"},
                        )
                    ],
                    "context_processors": ["django.template.context_processors.request"],
                },
            }
        ],
        REST_FRAMEWORK={
            "DEFAULT_AUTHENTICATION_CLASSES": [],
            "DEFAULT_PERMISSION_CLASSES": [],
            "UNAUTHENTICATED_USER": None,
            "EXCEPTION_HANDLER": "gatewayerrors.django.drf_exception_handler",
        },
        LOGGING_CONFIG=None,  # leave the process's logging (pytest's capture) alone
    )
    import django

    django.setup()
