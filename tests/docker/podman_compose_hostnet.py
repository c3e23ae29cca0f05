# SPDX-License-Identifier: MIT
"""podman-compose, with network_mode honoured (tests/docker/test_compose_cluster.py).

Debian 12's podman-compose 1.0.3 adds "--net <project>_default
--network-alias <service>" to every container, also to one with
network_mode: host, and creates that bridge network first; podman then
refuses the container ("cannot set multiple networks without bridge network
mode"; containers/podman-compose issues 397 and 1186, fixed in later
releases). On 1.0.3 this runs podman-compose with a service that has
network_mode getting no network of its own, as later releases do; any
other version runs unchanged.

    /usr/bin/python3 podman_compose_hostnet.py [podman-compose arguments]
"""
import sys

import podman_compose as pc

if pc.__version__ == '1.0.3':
    _assert_cnt_nets, _get_net_args = pc.assert_cnt_nets, pc.get_net_args

    def assert_cnt_nets(compose, cnt):
        if not cnt.get('network_mode'):
            _assert_cnt_nets(compose, cnt)

    def get_net_args(compose, cnt):
        if cnt.get('network_mode'):
            return []
        return _get_net_args(compose, cnt)

    pc.assert_cnt_nets = assert_cnt_nets
    pc.get_net_args = get_net_args

if __name__ == '__main__':
    sys.argv[0] = 'podman-compose'
    sys.exit(pc.main())
