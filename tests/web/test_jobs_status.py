from mitrain.models import UserRole
from mitrain.services.jobs import create_job


def test_job_status_json_for_owner_and_admin_only(client, auth, people, db) -> None:
    owner = people[UserRole.PRACTITIONER]
    job = create_job(db, "example", 7, owner_id=owner.id)
    auth.login(owner)
    data = client.get(f"/jobs/{job.id}.json").get_json()
    assert data["status"] == "queued" and data["progress"] == 0 and data["subject_id"] == 7
    auth.logout()
    auth.login(people[UserRole.TRAINER])
    denied = client.get(f"/jobs/{job.id}.json")
    assert denied.status_code == 403 and denied.get_json()["error"] == "No access"
    auth.logout()
    auth.login(people[UserRole.ADMIN])
    assert client.get(f"/jobs/{job.id}.json").get_json()["id"] == job.id
    assert client.get("/jobs/99999.json").status_code == 403
