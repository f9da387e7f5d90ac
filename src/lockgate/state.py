"""The typed shared state built once in the lifespan and injected into every surface."""

from __future__ import annotations

from dataclasses import dataclass

from lockgate.accounting.history import UsageHistory
from lockgate.accounting.service import Accountant
from lockgate.config import Settings
from lockgate.conversations.completion import CompletionService
from lockgate.conversations.content import ContentService
from lockgate.conversations.search_chat import GroundedChat
from lockgate.conversations.service import ConversationService
from lockgate.conversations.templates import TemplateService
from lockgate.gateway.admin import GatewayAdmin
from lockgate.gateway.service import GatewayService
from lockgate.identity.access import AccessService
from lockgate.identity.authenticator import Authenticator
from lockgate.identity.service import IdentityService
from lockgate.jobs.service import JobService
from lockgate.kit.db import Database
from lockgate.ops.metrics import Metrics
from lockgate.ops.readiness import ReadinessService
from lockgate.rag.chunk_reads import ChunkReads
from lockgate.rag.evaluation import Evaluator
from lockgate.rag.ingestion import Ingestion
from lockgate.rag.library import Library
from lockgate.rag.service import RagService
from lockgate.rag.sync_jobs import SyncJobs
from lockgate.rag.uploads import Uploads
from lockgate.responses.service import ResponsesService


@dataclass(slots=True)
class AppState:
    settings: Settings
    db: Database
    authenticator: Authenticator
    identity: IdentityService
    access: AccessService
    gateway: GatewayService
    gateway_admin: GatewayAdmin
    accountant: Accountant
    usage_history: UsageHistory
    rag: RagService
    grounded_chat: GroundedChat
    evaluator: Evaluator
    library: Library
    ingestion: Ingestion
    uploads: Uploads
    sync_jobs: SyncJobs
    jobs: JobService
    conversations: ConversationService
    completions: CompletionService
    content: ContentService
    chunk_reads: ChunkReads
    templates: TemplateService
    responses: ResponsesService
    metrics: Metrics
    readiness: ReadinessService
    console_key: bytes = b""  # signs the web console's CSRF tokens (derived from the secret key)
