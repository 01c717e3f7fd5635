"""Registration and login over GraphQL: register, login."""

from __future__ import annotations

from tests.conftest import PASSWORD, Api

REGISTER = """
mutation($input: RegisterInput!) {
  register(input: $input) { user { username role fullName subjectCodes } }
}
"""
LOGIN = """
mutation($u: String!, $p: String!) {
  login(input: {username: $u, password: $p}) { accessToken tokenType expiresIn user { username } }
}
"""


async def test_register_graphql_validation_is_bad_user_input(api: Api) -> None:
    body = await api.gql(
        REGISTER, {"input": {"username": "x", "email": "bad", "password": "short"}}
    )
    error = body["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert {d["loc"][0] for d in error["extensions"]["details"]} == {
        "username",
        "email",
        "password",
    }


async def test_register_graphql_creates_student(api: Api) -> None:
    body = await api.gql(
        REGISTER,
        {
            "input": {
                "username": "Lucia",
                "email": "lucia@example.com",
                "password": PASSWORD,
                "fullName": "Lucía Pérez",
            }
        },
    )
    assert body == {
        "data": {
            "register": {
                "user": {
                    "username": "lucia",
                    "role": "STUDENT",
                    "fullName": "Lucía Pérez",
                    "subjectCodes": [],
                }
            }
        }
    }


async def test_login_mutation_returns_working_token(api: Api) -> None:
    await api.register("gabriel")
    body = await api.gql(LOGIN, {"u": "Gabriel", "p": PASSWORD})
    login = body["data"]["login"]
    assert login["tokenType"] == "bearer" and login["expiresIn"] == 3600
    assert login["user"] == {"username": "gabriel"}
    me = await api.gql("{ me { username } }", token=login["accessToken"])
    assert me == {"data": {"me": {"username": "gabriel"}}}
