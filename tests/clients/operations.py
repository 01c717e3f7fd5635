"""Every GraphQL document the Python client tests send (setup included), in one place, so a
schema change is one edit here. The Node clients' documents live in node/operations.mjs."""

from __future__ import annotations

SET_ROLE = """
mutation SetRole($input: SetUserRoleInput!) {
  setUserRole(input: $input) { user { id username role } }
}
"""

CREATE_SUBJECT = """
mutation CreateSubject($input: CreateSubjectInput!) {
  createSubject(input: $input) { subject { id name } }
}
"""

ENROLL = """
mutation Enroll($input: EnrollmentInput!) {
  enroll(input: $input) { subject { id enrolled } }
}
"""

LOGIN = """
mutation Login($input: LoginInput!) {
  login(input: $input) { accessToken tokenType expiresIn user { id username role } }
}
"""

ME = """
query Me { me { id username role subjectCodes preferences { theme notifications } } }
"""

UPDATE_ME = """
mutation UpdateMe($input: UpdateMeInput!) {
  updateMe(input: $input) { user { id fullName preferences { theme notifications } } }
}
"""

USERS_PAGE = """
query Users($first: Int!, $after: String) {
  users(first: $first, after: $after) {
    edges { cursor node { id username } }
    pageInfo { hasNextPage endCursor }
  }
}
"""

SESSIONS_PAGE = """
query Sessions($first: Int!, $after: String) {
  sessions(first: $first, after: $after) {
    edges { cursor node { id lastActive } }
    pageInfo { hasNextPage endCursor }
  }
}
"""

SEND_MESSAGE = """
mutation Send($input: SendMessageInput!) {
  sendMessage(input: $input) {
    session { id messageCount }
    userMessage { id role content status }
    assistantMessage { id role content }
  }
}
"""

MESSAGE_ADDED = """
subscription MessageAdded($sessionId: ID!) {
  messageAdded(sessionId: $sessionId) { id sessionId role content status }
}
"""
