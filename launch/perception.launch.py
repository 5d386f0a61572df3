"""Launch the owss_ros perception node (and optionally RViz2 showing its outputs).

    ros2 launch owss_ros perception.launch.py camera_topic:=/front_camera/image_raw \
        camera_info_topic:=/front_camera/camera_info namespace:=front backend:=onnxruntime rviz:=true

Arguments: camera_topic (remapped onto the node's 'image'; its '/compressed' sibling onto
'image/compressed'), camera_info_topic, namespace, params_file (default: the installed
config/perception.yaml), model (weights; default: the bundled models/default/model.safetensors),
backend (auto | torch | onnxruntime | tensorrt), rviz (true: also start RViz2 with config/owss.rviz;
where rviz2 is not installed a warning is logged and the node runs alone), fastdds_profile (the
Fast DDS profile the node and RViz run with; default: $FASTDDS_DEFAULT_PROFILES_FILE if set, else
the installed config/fastdds_large_images.xml, without which best-effort camera frames over
~512 KiB are lost - the camera driver needs the same profile, see the README).
model and backend override the values in params_file.
"""

import launch.logging
from ament_index_python.packages import PackageNotFoundError, get_package_prefix
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.conditions import IfCondition
from launch.substitutions import EnvironmentVariable, LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

PROFILE_ENV = "FASTDDS_DEFAULT_PROFILES_FILE"


def package_installed(name):
    """Whether the ament index knows package ``name`` (FindPackageShare would abort the launch)."""
    try:
        get_package_prefix(name)
    except PackageNotFoundError:
        return False
    return True


def rviz_if_requested(context, rviz_config, environment):
    if not IfCondition(LaunchConfiguration("rviz")).evaluate(context):
        return []
    if not package_installed("rviz2"):
        launch.logging.get_logger("owss_ros.launch").warning(
            "rviz:=true, but rviz2 is not installed here: the perception node runs without RViz")
        return []
    return [Node(package="rviz2", executable="rviz2", name="rviz2", arguments=["-d", rviz_config],
                 additional_env=environment)]


def generate_launch_description():
    share = FindPackageShare("owss_ros")
    camera_topic = LaunchConfiguration("camera_topic")
    arguments = [
        DeclareLaunchArgument("camera_topic", default_value="/camera/image_raw",
                              description="sensor_msgs/Image topic to segment (remapped onto 'image')"),
        DeclareLaunchArgument("camera_info_topic", default_value="/camera/camera_info",
                              description="sensor_msgs/CameraInfo of that camera (remapped onto 'camera_info')"),
        DeclareLaunchArgument("namespace", default_value="",
                              description="namespace of the node, its topics and its services"),
        DeclareLaunchArgument("params_file",
                              default_value=PathJoinSubstitution([share, "config", "perception.yaml"]),
                              description="node parameter file"),
        DeclareLaunchArgument("model",
                              default_value=PathJoinSubstitution([share, "models", "default", "model.safetensors"]),
                              description="model weights (.safetensors); overrides model_path"),
        DeclareLaunchArgument("backend", default_value="auto",
                              description="inference backend: auto, torch, onnxruntime or tensorrt"),
        DeclareLaunchArgument("rviz", default_value="false", description="also start RViz2 with config/owss.rviz"),
        DeclareLaunchArgument(
            "fastdds_profile",
            default_value=EnvironmentVariable(
                PROFILE_ENV, default_value=PathJoinSubstitution([share, "config", "fastdds_large_images.xml"])),
            description="Fast DDS profile of the node and RViz (large best-effort camera frames need one); "
                        "give the camera driver the same"),
    ]
    large_images = {PROFILE_ENV: LaunchConfiguration("fastdds_profile")}
    perception = Node(
        package="owss_ros",
        executable="perception_node",
        name="perception_node",
        namespace=LaunchConfiguration("namespace"),
        parameters=[
            LaunchConfiguration("params_file"),
            {"model_path": LaunchConfiguration("model"), "backend": LaunchConfiguration("backend")},
        ],
        remappings=[
            ("image", camera_topic),
            ("image/compressed", [camera_topic, "/compressed"]),
            ("camera_info", LaunchConfiguration("camera_info_topic")),
        ],
        additional_env=large_images,
        output="screen",
        emulate_tty=True,
    )
    rviz = OpaqueFunction(function=rviz_if_requested,
                          args=[PathJoinSubstitution([share, "config", "owss.rviz"]), large_images])
    return LaunchDescription([*arguments, perception, rviz])
