import pytest
from django.utils import translation


@pytest.fixture(autouse=True)
def _english_for_text_rule_messages(request):
    """The text-rule tests compare English messages; the project's default language is
    Spanish, so they must not depend on what an earlier test left active."""
    if request.module.__name__.rsplit(".", 1)[-1].startswith("test_text_rules_"):
        with translation.override("en"):
            yield
    else:
        yield
