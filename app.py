"""Scribe's server: `streamlit run app.py` serves main.py (the script each session runs) once it is warm.

Before the server answers, the lifespan imports what the pages import and builds the services (database,
Claude backend, the sandbox when there is no key), so the first page a person opens is drawn at once rather
than after seconds of imports. Nothing else happens here.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator

import streamlit as st


@contextlib.asynccontextmanager
async def warm_up(_app: st.App) -> AsyncIterator[None]:
    from app_pages._shared import resources

    await asyncio.to_thread(resources.warm_up)
    yield


app = st.App("main.py", lifespan=warm_up)
