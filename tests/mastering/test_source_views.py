"""The source pages: browse, upload with preview, batch and record pages."""

import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from mastering.models import IngestBatch, SourceRecord
from tests.factories import source_with_fields

pytestmark = pytest.mark.django_db


@pytest.fixture
def people():
    return source_with_fields("people", key="id", id="string", name="string!", age="integer")


def upload(client, text: str, name="people.csv"):
    return client.post(reverse("mastering:source-upload", args=["people"]), {"file": SimpleUploadedFile(name, text.encode())})


def test_upload_preview_confirm_then_batch_page(client_for, steward, people):
    client = client_for(steward)
    response = upload(client, "id,name,age,extra\n1,Ada,36,x\n2,Alan,41,y\n")
    assert response.status_code == 302
    preview = client.get(response["Location"])
    assert preview.status_code == 200
    html = preview.content.decode()
    assert "Ada" in html and "no problems found" in html and "ignored" in html
    assert SourceRecord.objects.count() == 0
    done = client.post(response["Location"], {"mode": "append"})
    batch = IngestBatch.objects.get()
    assert done["Location"] == batch.get_absolute_url()
    assert batch.channel == IngestBatch.Channel.UPLOAD and batch.user == steward and batch.created == 2
    page = client.get(batch.get_absolute_url())
    assert page.status_code == 200 and "Succeeded" in page.content.decode()


def test_upload_preview_shows_problems_and_rejection_writes_nothing(client_for, steward, people):
    client = client_for(steward)
    response = upload(client, "id,name,age\n1,Ada,old\n")
    preview = client.get(response["Location"]).content.decode()
    assert "is not a whole number" in preview and "1 problem" in preview
    client.post(response["Location"], {"mode": "append"})
    batch = IngestBatch.objects.get()
    assert batch.status == IngestBatch.Status.REJECTED and SourceRecord.objects.count() == 0
    page = client.get(batch.get_absolute_url()).content.decode()
    assert "Nothing was written" in page and "Download problem report" in page


def test_upload_of_an_unreadable_file_says_why(client_for, steward, people):
    client = client_for(steward)
    empty = upload(client, "")
    assert empty.status_code == 200 and "The submitted file is empty" in empty.content.decode()
    response = upload(client, "\x89PNG\x00\x00binary")
    html = client.get(response["Location"]).content.decode()
    assert "cannot be ingested" in html and "binary file" in html


def test_upload_token_of_another_user_is_not_found(client_for, steward, other_curator, people, client):
    response = upload(client_for(steward), "id,name\n1,Ada\n")
    location = response["Location"]
    client.logout()
    from django.test import Client

    other = Client()
    from tests.conftest import make_user

    other.force_login(make_user("sally-steward", "steward"))
    assert other.get(location).status_code == 404


def test_confirming_an_upload_twice_makes_one_batch(client_for, steward, people, settings):
    settings.STEWARD_INLINE_INGEST_BYTES = 0  # a background batch: its file waits on disk for the worker
    client = client_for(steward)
    location = upload(client, "id,name\n1,Ada\n")["Location"]
    token = location.rstrip("/").rsplit("/", 1)[1]
    stale_session = dict(client.session["pending_uploads"])
    assert client.post(location, {"mode": "append"})["Location"] == IngestBatch.objects.get().get_absolute_url()

    # The second click raced the first: its request still saw the token pending.
    session = client.session
    session["pending_uploads"] = stale_session
    session.save()
    again = client.post(location, {"mode": "append"})
    assert again.status_code == 302, again.content.decode()[:3000]
    assert again["Location"] == reverse("mastering:batch-list", args=["people"])
    assert IngestBatch.objects.count() == 1 and token in stale_session
    # Sent once more after the session forgot it: the same answer, not an error page.
    assert client.post(location, {"mode": "append"})["Location"] == reverse("mastering:batch-list", args=["people"])
    assert IngestBatch.objects.count() == 1
    assert "already sent" in client.get(again["Location"]).content.decode()


def test_upload_is_forbidden_to_curators(client_for, curator, people):
    assert client_for(curator).get(reverse("mastering:source-upload", args=["people"])).status_code == 403


def test_source_page_searches_sorts_and_paginates(client_for, business_user, people):
    from mastering import services

    text = "id,name,age\n" + "".join(f"{i:03d},Person {i},{20 + i % 50}\n" for i in range(120))
    import io

    services.receive_table(source=people, stream=io.BytesIO(text.encode()), file_name="p.csv", user=None, channel="command")
    client = client_for(business_user)
    page = client.get(reverse("mastering:source-detail", args=["people"])).content.decode()
    assert "Page 1 of 3" in page
    found = client.get(reverse("mastering:source-detail", args=["people"]) + "?q=Person 117").content.decode()
    assert "Person 117" in found and "Person 116" not in found
    ordered = client.get(reverse("mastering:source-detail", args=["people"]) + "?ordering=-key").content.decode()
    assert ordered.index("Person 119") < ordered.index("Person 118")
    partial = client.get(reverse("mastering:source-detail", args=["people"]) + "?q=zzz", HTTP_HX_REQUEST="true")
    assert "<html" not in partial.content.decode() and "No records match" in partial.content.decode()


def test_record_page_shows_history_with_changes(client_for, business_user, engineer, people, api_for):
    api = api_for(engineer)
    api.put("/api/sources/people/records/1/", {"data": {"name": "Ada", "age": 36}}, format="json")
    api.put("/api/sources/people/records/1/", {"data": {"name": "Ada Lovelace", "age": 36}}, format="json")
    page = client_for(business_user).get(reverse("mastering:record-detail", args=["people", "1"])).content.decode()
    assert "version 2" in page and "Ada Lovelace" in page
    assert page.count("erin-engineer") >= 2


def test_missing_record_is_404(client_for, business_user, people):
    assert client_for(business_user).get(reverse("mastering:record-detail", args=["people", "nope"])).status_code == 404


def test_ingest_command_reports_counts_and_fails_on_rejection(people, tmp_path, capsys):
    from django.core.management import CommandError, call_command

    good = tmp_path / "good.csv"
    good.write_text("id,name,age\n1,Ada,36\n")
    call_command("ingest", "people", str(good))
    assert '"created": 1' in capsys.readouterr().out
    bad = tmp_path / "bad.csv"
    bad.write_text("id,name,age\n2,Alan,old\n")
    with pytest.raises(CommandError, match="rejected"):
        call_command("ingest", "people", str(bad))
    assert SourceRecord.objects.count() == 1


def test_propose_fields_infers_types(tmp_path):
    from mastering.services import propose_fields

    sample = tmp_path / "sample.csv"
    sample.write_text("id,postcode,age,joined,email,vip,balance\n1,0800,36,2024-01-02,a@b.co,yes,1.5\n2,2000,41,2023-05-06,c@d.org,no,2\n")
    proposed = {p["name"]: p["type"] for p in propose_fields(path=sample, file_name="sample.csv")}
    assert proposed == {"id": "integer", "postcode": "string", "age": "integer", "joined": "date",
                        "email": "email", "vip": "boolean", "balance": "decimal"}


def test_admin_propose_fields_flow(client_for, admin_user, people):
    client = client_for(admin_user)
    url = reverse("admin:mastering_source_propose_fields", args=[people.pk])
    proposal = client.post(url, {"sample": SimpleUploadedFile("s.csv", b"id,name,age,city\n1,Ada,36,London\n")})
    assert proposal.status_code == 200 and "city" in proposal.content.decode()
    saved = client.post(url, {"confirm": "1", "name": ["id", "name", "age", "city"], "type-0": "string", "keep-0": "on",
                              "type-1": "string", "keep-1": "on", "type-2": "integer", "keep-2": "on", "type-3": "string",
                              "keep-3": "on", "key_field": "id"})
    assert saved.status_code == 302
    assert list(people.fields.values_list("name", flat=True)) == ["id", "name", "age", "city"]


def test_of_two_racing_confirmations_only_one_claims_the_upload(tmp_path):
    from mastering.views.sources import _claim_upload

    pending = tmp_path / "pending.upload"
    pending.write_text("id,name\n1,Ada\n")
    first, second = _claim_upload(pending), _claim_upload(pending)
    assert first is not None and first.read_text() == "id,name\n1,Ada\n" and second is None


def test_upload_preview_refuses_a_table_wider_than_the_limit_at_once(client_for, steward, people):
    client = client_for(steward)
    response = upload(client, ",".join(["id", "name"] + [f"c{i}" for i in range(199_998)]) + "\n1,Ada" + ",x" * 199_998)
    started = time.perf_counter()
    html = client.get(response["Location"]).content.decode()
    assert "cannot be ingested" in html
    assert "The table has 200,000 columns; at most 1,000 are accepted" in html
    assert time.perf_counter() - started < 10


def test_admin_adds_a_source_from_a_sample_with_fields_proposed_before_saving(client_for, admin_user):
    from mastering.models import Source

    client = client_for(admin_user)
    add_form = client.get(reverse("admin:mastering_source_add")).content.decode()
    url = reverse("admin:mastering_source_propose_new")
    assert url in add_form and "Propose fields from a sample" in add_form
    proposal = client.post(url, {"name": "Clinic", "slug": "", "sample": SimpleUploadedFile("s.csv", b"id,name,born\n1,Ada,1815-12-10\n")})
    page = proposal.content.decode()
    assert proposal.status_code == 200 and "born" in page and "Add the source with these fields" in page
    assert not Source.objects.exists()  # proposing saves nothing
    refused = client.post(url, {"confirm": "1", "source_name": "Clinic", "name": ["id"], "keep-0": "on", "key_field": ""})
    assert refused.status_code == 200 and not Source.objects.exists()
    saved = client.post(url, {"confirm": "1", "source_name": "Clinic", "source_slug": "", "name": ["id", "name", "born"],
                              "type-0": "string", "keep-0": "on", "required-0": "on", "type-1": "string", "keep-1": "on",
                              "type-2": "date", "key_field": "id"})
    source = Source.objects.get()
    assert saved.status_code == 302 and saved["Location"] == reverse("admin:mastering_source_change", args=[source.pk])
    assert source.name == "Clinic" and source.key_field == "id"
    assert list(source.fields.values_list("name", flat=True)) == ["id", "name"]


def test_proposing_fields_for_a_new_source_needs_the_add_permission(client_for, curator):
    response = client_for(curator).post(reverse("admin:mastering_source_propose_new"),
                                        {"name": "X", "sample": SimpleUploadedFile("s.csv", b"id\n1\n")})
    assert response.status_code == 302
    from mastering.models import Source
    assert not Source.objects.exists()
