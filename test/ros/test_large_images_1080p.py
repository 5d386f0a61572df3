"""A 1920x1080 rgb8 camera stream through the node with the default parameters (issue 12, defect 1).

The node runs as its own process on config/perception.yaml (best-effort camera QoS, keep last
1, the bundled model on backend auto), started the way the demo / benchmark / launch file start
it: with config/fastdds_large_images.xml in its environment. The camera is a separate publisher
process with the same profile (what the README asks of a camera driver). Without the profile in
the node's process the same run gets no output at all (0 of 16 frames reach a best-effort
subscriber, test/transport/test_fastdds_large_images.py), and the node says so at startup
(test/ros/test_installed_launcher.py).
"""

from __future__ import annotations

import subprocess
import sys

from perception_node_harness import REPO_ROOT, NodeProcess, RosTestClient, connect_to_node, write_params_file
from sensor_msgs.msg import Image

from owss_ros.transport import fastdds

CONFIG_FILE = REPO_ROOT / "config" / "perception.yaml"
NAMESPACE = "/test_large_images"
CAMERA_TOPIC = f"{NAMESPACE}/camera/image_raw"
FRAMES = 16
MIN_OUTPUTS = 4


def test_1080p_frames_reach_the_node_with_default_parameters(ros_context, tmp_path):
    overrides = write_params_file(tmp_path / "overrides.yaml", class_store_path=str(tmp_path / "store.json"),
                                  mask_directory=str(tmp_path / "masks"), cache_directory=str(tmp_path / "cache"))
    node = NodeProcess([CONFIG_FILE, overrides], NAMESPACE, tmp_path / "node.log", remappings={"image": CAMERA_TOPIC})
    assert node.env[fastdds.PROFILE_ENV].endswith("config/fastdds_large_images.xml")
    node.start()
    client = RosTestClient(ros_context, "large_images_client")
    camera = None
    try:
        connect_to_node(client, node, NAMESPACE, timeout=120.0)
        output = f"{NAMESPACE}/perception_node/open_set"
        client.subscribe(output, Image)
        camera = subprocess.Popen(
            [sys.executable, "-m", "owss_ros.transport.image_probe", "pub", "--size", "1920x1080",
             "--frames", str(FRAMES), "--rate", "10", "--topic", CAMERA_TOPIC, "--large-image-profile"],
            cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        out, err = camera.communicate(timeout=90)
        assert camera.returncode == 0 and f"SENT {FRAMES}" in out, err[-2000:]
        try:  # the frames still in inference
            client.wait_until(lambda: len(client.messages(output)) >= MIN_OUTPUTS, timeout=10.0, what="outputs")
        except TimeoutError:
            pass  # asserted below, with the node's log
        outputs = client.messages(output)
    finally:
        if camera is not None and camera.poll() is None:
            camera.kill()
        client.close()
        code = node.stop()
    log = node.log()
    assert code == 0, log
    stamps = {(m.header.stamp.sec, m.header.stamp.nanosec) for m in outputs}
    # keep last 1 and a model slower than 10 Hz on a shared CPU: the node drops frames it has no
    # time for (counted in /diagnostics), but it must see and process the stream
    assert len(stamps) >= MIN_OUTPUTS, f"{len(stamps)} outputs for {FRAMES} 1080p frames\n{log[-3000:]}"
    assert all(m.height > 0 and m.width > 0 for m in outputs)
    assert "frame rejected" not in log.lower()
