"""Alembic migrations of the conversation store, shipped inside the package.

Run them with :func:`chatgpt_api.store.upgrade_database` (or ``open_store``, which calls it);
no ``alembic.ini`` is needed. To change the schema: edit ``store/schema.py``, then add a file to
``versions/`` named ``vNNNN_<what>.py`` with ``revision = "NNNN"``, ``down_revision`` = the
previous one, and ``upgrade()`` written with ``alembic.op``. SQLite cannot ALTER most things:
use ``op.batch_alter_table`` (``env.py`` turns on batch rendering for SQLite).
"""
