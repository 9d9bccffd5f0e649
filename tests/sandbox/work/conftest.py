"""The assistant's fixtures, shared by its tests (the modules choose their `db`: both databases)."""

import pytest

from lib.work.assistant import Assistant
from lib.work.assistant_tools import CrmTools
from lib.work.conversations import ConversationStore

MODEL = "claude-opus-4-8"


@pytest.fixture
def store(db):
    return ConversationStore(db)


@pytest.fixture
def assistant(gateway, crm, store):
    return Assistant(gateway, CrmTools(crm), model=MODEL, user="dana", budget=50_000, store=store)
