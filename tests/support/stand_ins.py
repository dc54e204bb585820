"""Bases for the gRPC stand-ins of other services in tests: every rpc of the service answers
UNIMPLEMENTED unless the stand-in overrides it, so a new rpc in a proto needs no stub here or in
any stand-in.

The generated servicer bases (`*_pb2_grpc.*Servicer`) already answer UNIMPLEMENTED at run time,
but neither way suits a stand-in: their methods are plain functions, which grpc.aio runs in a
thread and whose NotImplementedError it logs as an unexpected error; and mypy-protobuf's stubs
declare every rpc abstract, so a stand-in that leaves one out cannot be instantiated under mypy.
Here each rpc is an async abort, and mypy sees the base as `Any`: a stand-in's own methods keep
their annotations, but mypy no longer compares them with the generated stubs (the tests that
call them over real gRPC do).
"""

from typing import Any, NoReturn

import grpc
from google.protobuf.descriptor import FileDescriptor
from smartdesa.v1 import (
    catalogue_pb2,
    catalogue_pb2_grpc,
    directory_pb2,
    directory_pb2_grpc,
    intake_pb2,
    intake_pb2_grpc,
    population_pb2,
    population_pb2_grpc,
    signing_pb2,
    signing_pb2_grpc,
)


def _unimplemented(rpc: str) -> Any:
    async def answer(self: object, request: object, context: grpc.aio.ServicerContext) -> NoReturn:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, f"{rpc}: not served by this stand-in")
        raise AssertionError("abort raises")

    answer.__name__ = rpc
    return answer


def _answer_unimplemented(stand_in: type, proto: FileDescriptor, service: str) -> None:
    for method in proto.services_by_name[service].methods:
        setattr(stand_in, method.name, _unimplemented(method.name))


# Typed Any for mypy (see above); each class below is the generated base at run time.
_Intake: Any = intake_pb2_grpc.IntakeServiceServicer
_Directory: Any = directory_pb2_grpc.DirectoryServiceServicer
_Signing: Any = signing_pb2_grpc.SigningServiceServicer
_Population: Any = population_pb2_grpc.PopulationServiceServicer
_Catalogue: Any = catalogue_pb2_grpc.CatalogueServiceServicer


class IntakeStandIn(_Intake):  # type: ignore[misc]
    """IntakeService: every rpc answers UNIMPLEMENTED unless a subclass overrides it."""


class DirectoryStandIn(_Directory):  # type: ignore[misc]
    """DirectoryService: every rpc answers UNIMPLEMENTED unless a subclass overrides it."""


class SigningStandIn(_Signing):  # type: ignore[misc]
    """SigningService: every rpc answers UNIMPLEMENTED unless a subclass overrides it."""


class PopulationStandIn(_Population):  # type: ignore[misc]
    """PopulationService: every rpc answers UNIMPLEMENTED unless a subclass overrides it."""


class CatalogueStandIn(_Catalogue):  # type: ignore[misc]
    """CatalogueService: every rpc answers UNIMPLEMENTED unless a subclass overrides it."""


_answer_unimplemented(IntakeStandIn, intake_pb2.DESCRIPTOR, "IntakeService")
_answer_unimplemented(DirectoryStandIn, directory_pb2.DESCRIPTOR, "DirectoryService")
_answer_unimplemented(SigningStandIn, signing_pb2.DESCRIPTOR, "SigningService")
_answer_unimplemented(PopulationStandIn, population_pb2.DESCRIPTOR, "PopulationService")
_answer_unimplemented(CatalogueStandIn, catalogue_pb2.DESCRIPTOR, "CatalogueService")
