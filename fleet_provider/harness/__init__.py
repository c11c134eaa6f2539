"""Drives the real ``python -m pulumi.dynamic`` host over gRPC, as the Pulumi engine does.

:mod:`.host` starts the dynamic-provider host in a child process and sends it the engine's
RPCs; :mod:`.launch` works out how the engine would launch it for a project (working
directory, ``runtime.options``, virtualenv, the launcher's errors); :mod:`.wire` converts
property maps to and from the protobuf ``Struct`` they travel as.
The project's tests and benchmarks use it; the provider itself never imports it.
"""
