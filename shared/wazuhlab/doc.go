// Package wazuhlab runs a real Wazuh 4.14.7 manager engine (wazuh-analysisd,
// wazuh-remoted, wazuh-modulesd) for tests: each Lab is a private copy of an
// installed Wazuh home in a temporary directory, with its own ossec.conf,
// rules, remoted port and logs, so that test packages can run side by side.
//
// The engine comes from one of two places (see Locate):
//
//   - WAZUH_LAB: the root of a lab built by shared/wazuh-engine/build.sh
//     (a directory holding wazuh/bin/wazuh-analysisd), or the home of an
//     installed Wazuh manager (a directory holding bin/wazuh-analysisd, such
//     as /var/ossec). The installation is only read: its binaries, default
//     ruleset, CDB lists and internal options are copied, never its
//     ossec.conf, rules, keys or logs.
//   - otherwise the cache ${XDG_CACHE_HOME:-$HOME/.cache}/wazuh-pull/wazuh-lab-4.14.7,
//     which `make engine` builds once from ../shared/wazuh-engine.
//
// The daemons must run as root: they chroot into the Wazuh home and drop to
// the system user wazuh (which the build creates). They run in the
// foreground as children of the test process and are stopped by Close.
//
// analysisd first asks wazuh-db for the MITRE ATT&CK matrix and retries for
// 15 seconds when it is absent. A Lab answers those queries itself on the
// wazuh-db socket with an empty matrix, so analysisd starts in about a
// second; alerts then carry the rule's MITRE ids but not their names.
//
// What a Lab offers is what rule, delivery and pacing tests need: logtest
// sessions, syslog sending to remoted, command wodles in modulesd, start,
// stop, kill and restart of each daemon, internal options such as
// wazuh_modules.max_eps, and readers of archives.json, alerts.json and
// ossec.log.
package wazuhlab
