# Repository-root conftest: makes the source tree importable as ``owss_ros`` for the tests.
