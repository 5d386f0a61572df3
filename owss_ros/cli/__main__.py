import sys

from owss_ros.cli.main import main

sys.exit(main())
