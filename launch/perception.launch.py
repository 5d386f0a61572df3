"""Launch the owss_ros perception node (and optionally RViz2 showing its outputs).

    ros2 launch owss_ros perception.launch.py camera_topic:=/front_camera/image_raw \
        camera_info_topic:=/front_camera/camera_info namespace:=front backend:=onnxruntime rviz:=true

Arguments: camera_topic (remapped onto the node's 'image'; its '/compressed' sibling onto
'image/compressed'), camera_info_topic, namespace, params_file (default: the installed
config/perception.yaml), model (weights; default: the bundled models/default/model.safetensors),
backend (auto | torch | onnxruntime | tensorrt), rviz (true: also start RViz2 with config/owss.rviz).
model and backend override the values in params_file.
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare


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
    ]
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
        output="screen",
        emulate_tty=True,
    )
    rviz = Node(
        package="rviz2",
        executable="rviz2",
        name="rviz2",
        arguments=["-d", PathJoinSubstitution([share, "config", "owss.rviz"])],
        condition=IfCondition(LaunchConfiguration("rviz")),
    )
    return LaunchDescription([*arguments, perception, rviz])
