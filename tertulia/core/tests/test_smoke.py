import pytest
from django.urls import reverse


@pytest.mark.django_db
def test_login_page_renders_in_spanish_by_default(client):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert "Content-Security-Policy" in response.headers


def test_brand_a_owner_sees_settings(client, brand_a):
    brand, people = brand_a
    client.force_login(people["owner"])
    response = client.get(reverse("brand_settings", args=[brand.pk]))
    assert response.status_code == 200
    assert brand.name in response.content.decode()
