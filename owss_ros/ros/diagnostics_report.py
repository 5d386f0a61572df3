"""The node's timing and health report as diagnostic_msgs/DiagnosticArray (for /diagnostics)."""

from __future__ import annotations

from dataclasses import dataclass, field

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue


@dataclass
class HealthReport:
    name: str  # e.g. "/robot/perception_node: open-world segmentation"
    hardware_id: str  # the backend
    counters: dict[str, int]
    latencies: dict[str, tuple[float, float, int]]  # stage -> (p50 ms, p99 ms, samples)
    facts: dict[str, str] = field(default_factory=dict)  # backend describe(), fingerprint, ...
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def diagnostic_array(report: HealthReport, stamp) -> DiagnosticArray:
    if report.errors:
        level, message = DiagnosticStatus.ERROR, "; ".join(report.errors)
    elif report.warnings:
        level, message = DiagnosticStatus.WARN, "; ".join(report.warnings)
    else:
        level, message = DiagnosticStatus.OK, "ok"
    values = [KeyValue(key=k, value=str(v)) for k, v in report.counters.items()]
    for stage, (p50, p99, samples) in report.latencies.items():
        values.append(KeyValue(key=f"latency_ms.{stage}.p50", value=f"{p50:.2f}"))
        values.append(KeyValue(key=f"latency_ms.{stage}.p99", value=f"{p99:.2f}"))
        values.append(KeyValue(key=f"latency_ms.{stage}.samples", value=str(samples)))
    values += [KeyValue(key=k, value=str(v)) for k, v in report.facts.items()]
    status = DiagnosticStatus(level=level, name=report.name, message=message,
                              hardware_id=report.hardware_id, values=values)
    array = DiagnosticArray(status=[status])
    array.header.stamp = stamp
    return array
