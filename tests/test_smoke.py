from tests.conftest import Api


async def test_health(api: Api) -> None:
    r = await api.client.get("/health")
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    r = await api.client.get("/health/ready")
    assert r.json() == {"status": "ok", "database": "ok"}


async def test_register_login_me(api: Api) -> None:
    r = await api.register("gabriel")
    assert r.status_code == 201, r.text
    token = await api.token("gabriel")
    me = await api.client.get("/users/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200, me.text
    body = await api.gql("{ me { username email role preferences { theme } } }", token=token)
    assert body["data"]["me"]["username"] == "gabriel", body
