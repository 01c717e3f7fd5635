// Every GraphQL document the Node clients send, in one place: a schema change is one edit here.
// The Python client tests keep theirs in ../operations.py.

export const ME = /* GraphQL */ `
  query Me {
    me { id username role subjectCodes preferences { theme notifications } }
  }
`;

// A document of its own, so that its hash is unknown to the gateway when the APQ test starts.
export const ME_PERSISTED = /* GraphQL */ `
  query MePersisted($first: Int!) {
    me { id username fullName }
    sessions(first: $first) { pageInfo { hasNextPage } }
  }
`;

export const UPDATE_ME = /* GraphQL */ `
  mutation UpdateMe($input: UpdateMeInput!) {
    updateMe(input: $input) { user { id fullName preferences { theme } } }
  }
`;

export const USERS_PAGE = /* GraphQL */ `
  query Users($first: Int!, $after: String) {
    users(first: $first, after: $after) {
      edges { cursor node { id username role } }
      pageInfo { hasNextPage endCursor }
    }
  }
`;

export const SUBJECT_WITH_ANALYTICS = /* GraphQL */ `
  query SubjectAnalytics($id: ID!) {
    subject(id: $id) {
      id name studentCount
      analytics { id subjectCode totalStudents activeStudents averageTestScore }
    }
    systemInfo { version status }
  }
`;

export const SUBJECT_SUMMARY = /* GraphQL */ `
  query SubjectSummary($id: ID!) {
    subject(id: $id) { id analytics { id subjectCode activeStudents } }
    systemInfo { status }
  }
`;

export const SEND_MESSAGE = /* GraphQL */ `
  mutation Send($input: SendMessageInput!) {
    sendMessage(input: $input) {
      session { id messageCount }
      userMessage { id role content status }
      assistantMessage { id role content }
    }
  }
`;

export const MESSAGE_ADDED = /* GraphQL */ `
  subscription MessageAdded($sessionId: ID!) {
    messageAdded(sessionId: $sessionId) { id sessionId role content status }
  }
`;
