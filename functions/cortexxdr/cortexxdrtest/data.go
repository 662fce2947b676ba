package cortexxdrtest

import (
	"strconv"
	"strings"
	"time"
)

// KeyCanary appears in every generated API key, so a test can grep logs,
// errors, events and state files for it to prove that no key leaked.
const KeyCanary = "XDRSIMKEYCANARY"

// AlertSpec describes one alert to insert.
type AlertSpec struct {
	// Inserted is when the API inserted the alert: its local_insert_ts,
	// which the server_creation_time filter compares.
	Inserted time.Time
	// Detected is when the endpoint detected it: creation_time and
	// detection_timestamp. Zero means a few seconds before Inserted; hours
	// before makes a late upload from an endpoint that was offline.
	Detected time.Time
	// Lag is how long after Inserted the alert becomes visible to queries.
	Lag time.Duration
	// Severity is low, medium, high or critical ("" picks one); any other
	// value (informational) is served as given.
	Severity string
	// Tactic, when set, is the MITRE tactic of every contributing event
	// ("TA0040 - Impact"), with a technique of it; by default each event
	// names one picked from the data.
	Tactic string
	// Wide adds that many extra non-null fields (Wazuh keeps 256).
	Wide int
	// Oversize adds a string field of that many bytes, mixing ASCII with
	// multi-byte characters.
	Oversize int
	// Raw replaces the generated record (a JSON object, served as is); its
	// alert_id must be a string or an integer.
	Raw []byte
	// Excluded, when set, is when the alert stops being served, as an
	// alert exclusion made later hides it ("the alerts listed are what
	// remains after alert exclusions are applied").
	Excluded time.Time
}

// alert is a stored alert.
type alert struct {
	id       int64
	sid      string // alert_id as served
	inserted int64  // ms
	detected int64  // ms
	visible  int64  // ms
	excluded int64  // ms; 0: never
	severity string
	tactic   string
	wide     int
	oversize int
	raw      []byte
	source   string
}

func alertHash(seed int64, a *alert) uint64 {
	return mix(uint64(seed) ^ uint64(a.id)*0x2545f4914f6cdd1d)
}

func externalID(seed int64, a *alert) string { return hexString(alertHash(seed, a)^0xe7, 32) }

var severities = []string{"low", "medium", "high", "critical"}

func severityRank(s string) int {
	for i, v := range severities {
		if v == s {
			return i
		}
	}
	return -1
}

// mix is a 64-bit hash step (splitmix64), for deterministic data.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func pick[T any](h uint64, list []T) T { return list[h%uint64(len(list))] }

var (
	alertNames = []string{"Suspicious PowerShell Command Line", "Credential Dumping via LSASS Access", "Possible Ransomware Activity",
		"A user enabled the Windows DefaultAccount", "Uncommon Remote Scheduled Task Created", "Malware Detected by WildFire",
		"Port Scan", "Large Upload (HTTPS)", "Impossible traveler - SSO"}
	alertCategories = []string{"Execution", "Credential Access", "Malware", "Persistence", "Discovery", "Exfiltration", "Lateral Movement"}
	alertSources    = []string{"XDR Agent", "XDR Analytics", "PAN NGFW", "Correlation", "XDR BIOC"}
	hostNames       = []string{"ws-042", "ws-107", "srv-db-01", "lap-ana", "dc01", "build-7"}
	userNames       = []string{`acme\ana`, `acme\bob`, "carol@acme.example", `NT AUTHORITY\SYSTEM`, `acme\svc_backup`}
	processes       = []string{"powershell.exe", "cmd.exe", "rundll32.exe", "wmic.exe", "bash", "python3"}
	cmdLines        = []string{`powershell -enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQA`, `cmd.exe /c "whoami /all > C:\Users\Public\out.txt"`,
		`rundll32.exe C:\Windows\Temp\a.dll,Start`, `/usr/bin/ssh -l user 10.0.0.16`, `wmic process call create "calc.exe"`}
	tactics = []string{"TA0002 - Execution", "TA0006 - Credential Access", "TA0003 - Persistence", "TA0007 - Discovery",
		"TA0010 - Exfiltration", "TA0008 - Lateral Movement", "TA0005 - Defense Evasion", "TA0011 - Command and Control"}
	techniques = []string{"T1059.001 - Command and Scripting Interpreter: PowerShell", "T1003.001 - OS Credential Dumping: LSASS Memory",
		"T1053.005 - Scheduled Task/Job: Scheduled Task", "T1046 - Network Service Discovery", "T1048 - Exfiltration Over Alternative Protocol"}
	eventTypes = []string{"Process Execution", "Network Event", "File Event", "Registry Event", "Injection Event"}
	// techniqueOf gives a tactic named by AlertSpec.Tactic or
	// IncidentSpec.Tactic a technique of it.
	techniqueOf = map[string]string{
		"TA0002 - Execution":            "T1059.001 - Command and Scripting Interpreter: PowerShell",
		"TA0003 - Persistence":          "T1053.005 - Scheduled Task/Job: Scheduled Task",
		"TA0004 - Privilege Escalation": "T1068 - Exploitation for Privilege Escalation",
		"TA0005 - Defense Evasion":      "T1562.001 - Impair Defenses: Disable or Modify Tools",
		"TA0006 - Credential Access":    "T1003.001 - OS Credential Dumping: LSASS Memory",
		"TA0007 - Discovery":            "T1046 - Network Service Discovery",
		"TA0008 - Lateral Movement":     "T1021.002 - Remote Services: SMB/Windows Admin Shares",
		"TA0010 - Exfiltration":         "T1048 - Exfiltration Over Alternative Protocol",
		"TA0011 - Command and Control":  "T1071.001 - Application Layer Protocol: Web Protocols",
		"TA0040 - Impact":               "T1486 - Data Encrypted for Impact",
	}
	countries = []string{"UNKNOWN", "US", "NL", "DE", "SG"}
	osTypes   = []string{"AGENT_OS_WINDOWS", "AGENT_OS_LINUX", "AGENT_OS_MAC"}
	// osSubTypes are the agents' operating systems by type.
	osSubTypes = map[string][]string{
		"AGENT_OS_WINDOWS": {"Windows 11 Enterprise", "Windows 10 Pro", "Windows Server 2022"},
		"AGENT_OS_LINUX":   {"Ubuntu 22.04", "Red Hat Enterprise Linux 9"},
		"AGENT_OS_MAC":     {"macOS 14.4"},
	}
)

func appendStr(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

func appendKey(b []byte, k string) []byte {
	if b[len(b)-1] != '{' {
		b = append(b, ',')
	}
	b = append(b, '"')
	b = append(b, k...)
	return append(b, '"', ':')
}

func hexString(h uint64, n int) string {
	const digits = "0123456789abcdef"
	var sb strings.Builder
	for i := 0; i < n; i++ {
		if i%16 == 0 {
			h = mix(h + uint64(i))
		}
		sb.WriteByte(digits[(h>>(4*(i%16)))&0xf])
	}
	return sb.String()
}

func ip(h uint64) string {
	return "10." + strconv.Itoa(int(h>>8&0xff)) + "." + strconv.Itoa(int(h>>16&0xff)) + "." + strconv.Itoa(int(h>>24&0xfe)+1)
}

// appendAlert writes the alert as get_alerts_multi_events v2 serves it:
// top-level alert fields plus the per-event fields as lists (one element
// per contributing event), with the many nulls a real reply carries. The
// member order follows captured replies, alert_id near the end.
func appendAlert(b []byte, seed int64, a *alert, compact bool) []byte {
	if a.raw != nil {
		return append(b, a.raw...)
	}
	h := alertHash(seed, a)
	// Most alerts stem from one event; correlations carry a few.
	events := 1
	switch h >> 58 { // 0-63
	case 0, 1, 2, 3, 4, 5, 6, 7, 8, 9:
		events = 2
	case 10, 11, 12:
		events = 3
	}
	str := func(k, v string) { b = appendKey(b, k); b = appendStr(b, v) }
	num := func(k string, v int64) { b = appendKey(b, k); b = strconv.AppendInt(b, v, 10) }
	null := func(k string) { b = appendKey(b, k); b = append(b, "null"...) }
	boolean := func(k string, v bool) { b = appendKey(b, k); b = strconv.AppendBool(b, v) }
	strList := func(k string, gen func(i int) string) {
		b = appendKey(b, k)
		b = append(b, '[')
		for i := 0; i < events; i++ {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendStr(b, gen(i))
		}
		b = append(b, ']')
	}
	numList := func(k string, gen func(i int) int64) {
		b = appendKey(b, k)
		b = append(b, '[')
		for i := 0; i < events; i++ {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, gen(i), 10)
		}
		b = append(b, ']')
	}
	hi := func(i int) uint64 { return mix(h + uint64(i)*7919) }
	host := pick(h>>3, hostNames)
	b = append(b, '{')
	str("external_id", externalID(seed, a))
	str("severity", a.severity)
	str("matching_status", pick(h>>5, []string{"MATCHED", "UNMATCHABLE", "FAILED"}))
	null("end_match_attempt_ts")
	num("local_insert_ts", a.inserted)
	if h&3 == 0 {
		num("last_modified_ts", 0) // unset, as the API sometimes says it
	} else {
		null("last_modified_ts")
	}
	if !compact {
		null("bioc_indicator")
		null("matching_service_rule_id")
		num("attempt_counter", int64(h>>40)%3)
		null("bioc_category_enum_key")
	}
	if h&1 == 0 {
		num("case_id", 1000+int64(h>>20)%9000)
	} else {
		null("case_id")
	}
	boolean("is_whitelisted", false)
	boolean("starred", h&0x10 != 0)
	if !compact {
		str("deduplicate_tokens", hexString(h^0xd7, 32))
		num("filter_rule_id", 0)
	}
	if a.tactic != "" {
		strList("mitre_technique_id_and_name", func(int) string { return techniqueFor(a.tactic, h) })
		strList("mitre_tactic_id_and_name", func(int) string { return a.tactic })
	} else {
		strList("mitre_technique_id_and_name", func(i int) string { return pick(hi(i)>>7, techniques) })
		strList("mitre_tactic_id_and_name", func(i int) string { return pick(hi(i)>>9, tactics) })
	}
	str("agent_version", "8."+strconv.Itoa(int(h>>44)%5)+".0.12345")
	if !compact {
		null("agent_ip_addresses_v6")
		null("agent_device_domain")
		str("agent_fqdn", host+".acme.example")
	}
	osType := pick(h>>11, osTypes)
	str("agent_os_type", osType)
	if !compact {
		str("agent_os_sub_type", pick(h>>13, osSubTypes[osType]))
		null("agent_data_collection_status")
		boolean("agent_is_vdi", false)
		str("agent_install_type", "STANDARD")
		numList("agent_host_boot_time", func(i int) int64 { return a.detected - 86_400_000 - int64(hi(i)%3_600_000) })
		numList("event_sub_type", func(i int) int64 { return 1 + int64(hi(i)%4) })
		null("module_id")
		numList("association_strength", func(i int) int64 { return 50 })
		null("dst_association_strength")
		if h&0x40 != 0 {
			num("story_id", 4_519_875_620_147+int64(h>>30)%1_000_000) // beyond 32 bits
		} else {
			null("story_id")
		}
		strList("event_id", func(i int) string { return hexString(hi(i), 24) })
	}
	strList("event_type", func(i int) string { return pick(hi(i)>>13, eventTypes) })
	numList("event_timestamp", func(i int) int64 {
		if i == 1 && h&0x20 != 0 {
			return 0 // an event whose time the API does not know
		}
		return a.detected - int64(i)*1000
	})
	if !compact {
		strList("actor_process_instance_id", func(i int) string { return hexString(hi(i)^1, 16) })
		strList("actor_process_image_path", func(i int) string { return `C:\Windows\System32\` + pick(hi(i)>>15, processes) })
	}
	strList("actor_process_image_name", func(i int) string { return pick(hi(i)>>15, processes) })
	strList("actor_process_command_line", func(i int) string { return pick(hi(i)>>17, cmdLines) })
	if !compact {
		strList("actor_process_signature_status", func(i int) string { return "Signed" })
		strList("actor_process_signature_vendor", func(i int) string { return "Microsoft Corporation" })
		strList("actor_process_image_sha256", func(i int) string { return hexString(hi(i)^2, 64) })
		strList("actor_process_image_md5", func(i int) string { return hexString(hi(i)^3, 32) })
		strList("actor_process_causality_id", func(i int) string { return hexString(hi(i)^4, 16) })
		strList("actor_causality_id", func(i int) string { return hexString(hi(i)^5, 16) })
		numList("actor_process_os_pid", func(i int) int64 { return 100 + int64(hi(i)%30000) })
		numList("actor_thread_thread_id", func(i int) int64 { return 100 + int64(hi(i)%9000) })
		strList("causality_actor_process_image_name", func(i int) string { return "explorer.exe" })
		strList("causality_actor_process_command_line", func(i int) string { return `C:\Windows\explorer.exe` })
		strList("causality_actor_process_image_path", func(i int) string { return `C:\Windows\explorer.exe` })
		strList("causality_actor_process_signature_vendor", func(i int) string { return "Microsoft Corporation" })
		strList("causality_actor_process_signature_status", func(i int) string { return "Signed" })
		strList("causality_actor_causality_id", func(i int) string { return hexString(hi(i)^6, 16) })
		numList("causality_actor_process_execution_time", func(i int) int64 { return a.detected - 600_000 })
		strList("causality_actor_process_image_md5", func(i int) string { return hexString(hi(i)^7, 32) })
		strList("causality_actor_process_image_sha256", func(i int) string { return hexString(hi(i)^8, 64) })
		for _, k := range []string{"action_file_path", "action_file_name", "action_file_md5", "action_file_sha256",
			"action_file_macro_sha256", "action_registry_data", "action_registry_key_name", "action_registry_value_name",
			"action_registry_full_key"} {
			null(k)
		}
		strList("action_local_ip", func(i int) string { return ip(hi(i)) })
		null("action_local_ip_v6")
		numList("action_local_port", func(i int) int64 { return 1024 + int64(hi(i)%60000) })
		if h&0x80 != 0 {
			strList("action_remote_ip", func(i int) string { return ip(hi(i) >> 5) })
			numList("action_remote_port", func(i int) int64 { return 443 })
		} else {
			null("action_remote_ip")
			null("action_remote_port")
		}
		null("action_remote_ip_v6")
		null("action_external_hostname")
		strList("action_country", func(i int) string { return pick(hi(i)>>19, countries) })
		for _, k := range []string{"action_process_instance_id", "action_process_causality_id", "action_process_image_name",
			"action_process_image_sha256", "action_process_image_command_line"} {
			null(k)
		}
		strList("action_process_signature_status", func(i int) string { return "N/A" })
		null("action_process_signature_vendor")
		null("os_actor_effective_username")
		strList("os_actor_process_instance_id", func(i int) string { return hexString(hi(i)^9, 16) })
		strList("os_actor_process_image_path", func(i int) string { return `C:\Windows\System32\svchost.exe` })
		strList("os_actor_process_image_name", func(i int) string { return "svchost.exe" })
		strList("os_actor_process_command_line", func(i int) string { return `svchost.exe -k netsvcs -p` })
		strList("os_actor_process_signature_status", func(i int) string { return "Signed" })
		strList("os_actor_process_signature_vendor", func(i int) string { return "Microsoft Corporation" })
		strList("os_actor_process_image_sha256", func(i int) string { return hexString(hi(i)^10, 64) })
		strList("os_actor_process_causality_id", func(i int) string { return hexString(hi(i)^11, 16) })
		null("os_actor_causality_id")
		numList("os_actor_process_os_pid", func(i int) int64 { return 4 + int64(hi(i)%2000) })
		numList("os_actor_thread_thread_id", func(i int) int64 { return 4 + int64(hi(i)%2000) })
		for _, k := range []string{"fw_app_id", "fw_interface_from", "fw_interface_to", "fw_rule", "fw_rule_id", "fw_device_name",
			"fw_serial_number", "fw_url_domain", "fw_email_subject", "fw_email_sender", "fw_email_recipient",
			"fw_app_subcategory", "fw_app_category", "fw_app_technology", "fw_vsys", "fw_xff", "fw_misc"} {
			null(k)
		}
		strList("fw_is_phishing", func(i int) string { return "N/A" })
		null("dst_agent_id")
		null("dst_causality_actor_process_execution_time")
		null("dns_query_name")
		null("dst_action_external_hostname")
		null("dst_action_country")
		null("dst_action_external_port")
		boolean("is_pcap", false)
		strList("contains_featured_host", func(i int) string { return "NO" })
		strList("contains_featured_user", func(i int) string { return "NO" })
		strList("contains_featured_ip", func(i int) string { return "NO" })
		for _, k := range []string{"image_name", "image_id", "container_id", "container_name", "namespace", "cluster_name",
			"referenced_resource", "operation_name", "identity_sub_type", "identity_type", "project", "cloud_provider",
			"resource_type", "resource_sub_type", "user_agent"} {
			null(k)
		}
	}
	str("alert_type", "Unclassified")
	str("resolution_status", "STATUS_010_NEW")
	if !compact {
		null("resolution_comment")
		if h&0x100 != 0 {
			b = appendKey(b, "dynamic_fields")
			b = append(b, `{"rule_name":`...)
			b = appendStr(b, pick(h>>21, alertNames))
			b = append(b, `,"score":`...)
			b = strconv.AppendInt(b, int64(h>>50)%100, 10)
			b = append(b, `,"empty":"","nothing":null}`...)
		} else {
			null("dynamic_fields")
		}
	}
	b = appendKey(b, "tags")
	b = append(b, `["EG:workstations","DS:`...)
	b = append(b, pick(h>>23, alertSources)...)
	b = append(b, `"]`...)
	if !compact {
		null("malicious_urls")
	}
	str("alert_id", strconv.FormatInt(a.id, 10))
	num("detection_timestamp", a.detected)
	str("name", pick(h>>25, alertNames))
	str("category", pick(h>>27, alertCategories))
	// An endpoint keeps its id in every alert it raises.
	str("endpoint_id", endpointID(seed, host))
	str("description", pick(h>>25, alertNames)+" on "+host+" involving "+pick(h>>29, userNames))
	b = appendKey(b, "host_ip")
	b = append(b, '[')
	b = appendStr(b, ip(h))
	b = append(b, ']')
	str("host_name", host)
	str("action", pick(h>>31, []string{"DETECTED", "BLOCKED", "REPORTED"}))
	str("source", a.source)
	b = appendKey(b, "original_tags")
	b = append(b, `["EG:workstations"]`...)
	strList("user_name", func(i int) string { return pick(hi(i)>>29, userNames) })
	if !compact {
		null("mac_addresses")
	}
	str("action_pretty", "Detected")
	for i := 0; i < a.wide; i++ {
		b = appendKey(b, "custom_field_"+strconv.Itoa(i))
		b = appendStr(b, "value "+strconv.Itoa(i))
	}
	if a.oversize > 0 {
		b = appendKey(b, "actor_process_command_line_full")
		b = append(b, '"')
		for n := 0; n < a.oversize; {
			chunk := "powershell -c Write-Host 'héllo wörld ✓' "
			b = append(b, chunk...)
			n += len(chunk)
		}
		b = append(b, '"')
	}
	return append(b, '}')
}

// endpointID is the agent id of a host of the tenant.
func endpointID(seed int64, host string) string {
	return hexString(mix(uint64(seed)^fnv(host))^0xe1d, 32)
}

// techniqueFor returns a technique of tactic (one picked by h when the
// tactic is not in techniqueOf).
func techniqueFor(tactic string, h uint64) string {
	if t, ok := techniqueOf[tactic]; ok {
		return t
	}
	return pick(h>>7, techniques)
}

// IncidentSpec describes a new incident.
type IncidentSpec struct {
	// Created is its creation_time and first modification_time.
	Created time.Time
	// Lag is how long after Created it becomes visible to queries.
	Lag         time.Duration
	Severity    string // "" picks one
	Description string // "" generates one
	AlertCount  int    // 0: 1
	// Tactic, when set, is the incident's MITRE tactic ("TA0040 -
	// Impact"), with a technique of it; by default one is picked.
	Tactic string
	// Unmapped incidents name no tactic or technique (empty lists), as
	// incidents of alerts without a MITRE mapping do.
	Unmapped bool
}

// IncidentChange is a change to an incident: it moves modification_time
// to At. Changes to one incident must come in increasing At order.
type IncidentChange struct {
	At time.Time
	// Lag is how long after At the change becomes visible to queries;
	// until then queries see the incident as it was.
	Lag time.Duration
	// Status is the new status ("" keeps it), e.g. under_investigation,
	// resolved_true_positive.
	Status string
	// AddAlerts adds alerts to the incident.
	AddAlerts int
	// AssignTo sets the assignee.
	AssignTo string
	// ResolveComment sets the resolve comment.
	ResolveComment string
}

// incidentVersion is one state of an incident.
type incidentVersion struct {
	modified  int64 // ms
	visible   int64 // ms
	status    string
	alerts    int
	assignee  string
	comment   string
	resolvedT int64
}

type incident struct {
	id          int64
	created     int64
	severity    string
	description string
	host        string
	user        string
	tactic      string
	unmapped    bool
	versions    []incidentVersion
}

// appendIncident writes an incident as get_incidents serves it.
func appendIncident(b []byte, fqdn string, inc *incident, v *incidentVersion) []byte {
	h := mix(uint64(inc.id) * 0x9e37)
	str := func(k, s string) { b = appendKey(b, k); b = appendStr(b, s) }
	num := func(k string, n int64) { b = appendKey(b, k); b = strconv.AppendInt(b, n, 10) }
	null := func(k string) { b = appendKey(b, k); b = append(b, "null"...) }
	b = append(b, '{')
	str("incident_id", strconv.FormatInt(inc.id, 10))
	null("incident_name")
	num("creation_time", inc.created)
	num("modification_time", v.modified)
	null("detection_time")
	str("status", v.status)
	str("severity", inc.severity)
	null("manual_severity")
	str("description", inc.description)
	if v.assignee != "" {
		str("assigned_user_mail", v.assignee+"@acme.example")
		str("assigned_user_pretty_name", v.assignee)
	} else {
		null("assigned_user_mail")
		null("assigned_user_pretty_name")
	}
	num("alert_count", int64(v.alerts))
	num("low_severity_alert_count", 0)
	num("med_severity_alert_count", int64(v.alerts/2))
	num("high_severity_alert_count", int64(v.alerts-v.alerts/2))
	num("critical_severity_alert_count", 0)
	num("user_count", 1)
	num("host_count", 1)
	b = appendKey(b, "hosts")
	b = append(b, '[')
	b = appendStr(b, inc.host+":"+hexString(h, 32))
	b = append(b, ']')
	b = appendKey(b, "users")
	b = append(b, '[')
	b = appendStr(b, inc.user)
	b = append(b, ']')
	b = appendKey(b, "incident_sources")
	b = append(b, `["XDR Agent"]`...)
	b = appendKey(b, "alert_categories")
	b = append(b, '[')
	b = appendStr(b, pick(h>>3, alertCategories))
	b = append(b, ']')
	tactic, technique := pick(h>>5, tactics), pick(h>>7, techniques)
	if inc.tactic != "" {
		tactic, technique = inc.tactic, techniqueFor(inc.tactic, h)
	}
	b = appendKey(b, "mitre_tactics_ids_and_names")
	b = append(b, '[')
	if !inc.unmapped {
		b = appendStr(b, tactic)
	}
	b = append(b, ']')
	b = appendKey(b, "mitre_techniques_ids_and_names")
	b = append(b, '[')
	if !inc.unmapped {
		b = appendStr(b, technique)
	}
	b = append(b, ']')
	null("rule_based_score")
	num("predicted_score", 10+int64(h>>9)%90)
	num("aggregated_score", 10+int64(h>>9)%90)
	num("wildfire_hits", 0)
	b = appendKey(b, "starred")
	b = strconv.AppendBool(b, false)
	null("notes")
	if v.comment != "" {
		str("resolve_comment", v.comment)
	} else {
		null("resolve_comment")
	}
	if v.resolvedT > 0 {
		num("resolved_timestamp", v.resolvedT)
	} else {
		null("resolved_timestamp")
	}
	str("xdr_url", "https://"+fqdn+"/incident-view?caseId="+strconv.FormatInt(inc.id, 10))
	b = appendKey(b, "original_tags")
	b = append(b, `["EG:workstations"]`...)
	b = appendKey(b, "tags")
	b = append(b, `["EG:workstations"]`...)
	return append(b, '}')
}
