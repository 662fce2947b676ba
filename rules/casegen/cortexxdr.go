package casegen

import (
	"context"
	"fmt"

	"github.com/wazuh-pull/wazuh-pull/rules"
	"github.com/wazuh-pull/wazuh-pull/shared/event"
)

// CortexXDR is the Cortex XDR registration. Until functions/cortexxdr
// exists it uses a stand-in (GenerateCortexXDRStandIn) built from the
// documented alert and incident replies; replace Generator with the
// collector's.
func CortexXDR() *Vendor {
	v, _ := rules.VendorByName("cortex_xdr")
	return &Vendor{
		Vendor:     v,
		EventTypes: []string{"alert", "incident", "error", "run_summary"},
		Generator: Generator{
			Origin:   OriginStandIn,
			Describe: "stand-in: documented get_alerts_multi_events v2 and get_incidents records through shared/pipeline (casegen.GenerateCortexXDRStandIn); replace with functions/cortexxdr against its simulator",
			Run:      GenerateCortexXDRStandIn,
		},
		Cases: cortexXDRCases(),
	}
}

// xdrStreams are the seed's streams.
var xdrStreams = []string{"alerts", "incidents"}

// xdrEpochMillis are the epoch-millisecond fields the seed wodle turned
// into ISO 8601 strings.
var xdrEpochMillis = []string{"creation_time", "modification_time", "detection_time", "resolved_timestamp",
	"local_insert_ts", "last_modified_ts", "detection_timestamp", "end_match_attempt_ts", "event_timestamp",
	"causality_actor_process_execution_time", "dst_causality_actor_process_execution_time", "agent_host_boot_time"}

// The seed's envelope: "xdr", the type in "type", the stream of error and
// summary events in "error_source".
func xdrEnvelope() event.Envelope {
	return event.Envelope{Integration: "cortex_xdr", Namespace: "xdr", TypeKey: "type", SourceKey: "error_source"}
}

var xdrTactics = []string{"TA0003 - Persistence", "TA0004 - Privilege Escalation", "TA0005 - Defense Evasion", "TA0006 - Credential Access",
	"TA0008 - Lateral Movement", "TA0010 - Exfiltration", "TA0011 - Command and Control", "TA0040 - Impact"}

var xdrTechniques = map[string]string{
	"TA0003 - Persistence":          "T1547.001 - Boot or Logon Autostart Execution: Registry Run Keys / Startup Folder",
	"TA0004 - Privilege Escalation": "T1068 - Exploitation for Privilege Escalation",
	"TA0005 - Defense Evasion":      "T1562.001 - Impair Defenses: Disable or Modify Tools",
	"TA0006 - Credential Access":    "T1003.001 - OS Credential Dumping: LSASS Memory",
	"TA0008 - Lateral Movement":     "T1021.002 - Remote Services: SMB/Windows Admin Shares",
	"TA0010 - Exfiltration":         "T1048 - Exfiltration Over Alternative Protocol",
	"TA0011 - Command and Control":  "T1071.001 - Application Layer Protocol: Web Protocols",
	"TA0040 - Impact":               "T1486 - Data Encrypted for Impact",
	"TA0002 - Execution":            "T1059.001 - Command and Scripting Interpreter: PowerShell",
	"TA0007 - Discovery":            "T1087 - Account Discovery",
}

const xdrBaseMillis = int64(1772452800000) // 2026-03-02T12:00:00Z

// xdrAlert is a get_alerts_multi_events v2 alert (per-event fields are
// arrays) as documented.
func xdrAlert(n int, severity, host, tactic string) map[string]any {
	var tactics, techniques any
	if tactic != "" {
		tactics = []string{tactic}
		techniques = []string{xdrTechniques[tactic]}
	}
	return map[string]any{
		"alert_id": fmt.Sprint(88000 + n), "external_id": ppHash("xdr-alert", n)[:32],
		"name": fmt.Sprintf("Suspicious activity %d", n), "description": "Behavioral threat detected",
		"category": "Malware", "severity": severity, "source": "XDR Agent", "alert_type": "Unclassified",
		"action": "DETECTED", "action_pretty": "Detected",
		"detection_timestamp": xdrBaseMillis - int64(n)*60000 - 5000, "local_insert_ts": xdrBaseMillis - int64(n)*60000,
		"last_modified_ts": nil, "case_id": 1400 + n, "matching_status": "MATCHED", "resolution_status": "STATUS_010_NEW",
		"endpoint_id": ppHash("endpoint", host)[:32], "host_name": host, "host_ip": []string{fmt.Sprintf("10.20.30.%d", 1+n%250)},
		"user_name": []string{`acme\ana`}, "agent_os_type": "Windows", "agent_os_sub_type": "Windows 11", "agent_version": "8.4.1.12345",
		"mitre_tactic_id_and_name": tactics, "mitre_technique_id_and_name": techniques,
		"event_type":                         []string{"Process Execution"},
		"event_timestamp":                    []int64{xdrBaseMillis - int64(n)*60000 - 6000},
		"actor_process_image_name":           []string{"powershell.exe"},
		"actor_process_command_line":         []string{"powershell -enc SQBFAFgA"},
		"causality_actor_process_image_path": []string{`C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe`},
		"action_remote_ip":                   nil, "tags": []string{"EG:workstations"}, "starred": false, "is_whitelisted": false,
	}
}

// xdrIncident is a get_incidents incident as documented.
func xdrIncident(n int, severity, status string, alerts int, tactic, comment string) map[string]any {
	var tactics, techniques any = []string{}, []string{}
	if tactic != "" {
		tactics = []string{tactic}
		techniques = []string{xdrTechniques[tactic]}
	}
	inc := map[string]any{
		"incident_id": fmt.Sprint(1400 + n), "incident_name": nil,
		"creation_time": xdrBaseMillis - int64(n)*600000, "modification_time": xdrBaseMillis - int64(n)*60000, "detection_time": nil,
		"status": status, "severity": severity, "manual_severity": nil,
		"description":        fmt.Sprintf("'Suspicious activity %d' generated by XDR Agent detected on host ws-%03d involving user acme\\ana", n, n),
		"assigned_user_mail": nil, "assigned_user_pretty_name": nil,
		"alert_count": alerts, "low_severity_alert_count": 0, "med_severity_alert_count": alerts, "high_severity_alert_count": 0,
		"critical_severity_alert_count": 0, "user_count": 1, "host_count": 1,
		"hosts": []string{fmt.Sprintf("ws-%03d:%s", n, ppHash("endpoint", n)[:32])}, "users": []string{`acme\ana`},
		"incident_sources": []string{"XDR Agent"}, "alert_categories": []string{"Execution"},
		"mitre_tactics_ids_and_names": tactics, "mitre_techniques_ids_and_names": techniques,
		"rule_based_score": nil, "predicted_score": 40, "aggregated_score": 40, "wildfire_hits": 0, "starred": false,
		"notes": nil, "resolve_comment": nil, "resolved_timestamp": nil,
		"xdr_url":       fmt.Sprintf("https://acme.xdr.eu.paloaltonetworks.com/incident-view?caseId=%d", 1400+n),
		"original_tags": []string{"EG:workstations"}, "tags": []string{"EG:workstations"},
	}
	if status == "under_investigation" {
		inc["assigned_user_mail"] = "soc.analyst@example.org"
		inc["assigned_user_pretty_name"] = "SOC Analyst"
	}
	if len(status) > 9 && status[:9] == "resolved_" {
		inc["resolved_timestamp"] = xdrBaseMillis - int64(n)*30000
		if comment != "" {
			inc["resolve_comment"] = comment
		}
	}
	return inc
}

// xdrRecords are the stand-in's alerts and incidents.
func xdrRecords() (alerts, incidents []record) {
	n := 0
	alert := func(severity, host, tactic string) {
		n++
		alerts = append(alerts, record{"alert", fmt.Sprint(88000 + n), xdrAlert(n, severity, host, tactic)})
	}
	incident := func(severity, status string, count int, tactic, comment string) {
		n++
		incidents = append(incidents, record{"incident", fmt.Sprintf("%d:%d", 1400+n, n), xdrIncident(n, severity, status, count, tactic, comment)})
	}
	for i, sev := range []string{"informational", "low", "medium", "high", "critical"} {
		alert(sev, fmt.Sprintf("ws-%03d", i), "TA0002 - Execution")
	}
	for i, t := range xdrTactics {
		alert("low", fmt.Sprintf("srv-%03d", i), t)
	}
	alert("high", "srv-100", "TA0040 - Impact")
	// Five alerts on one endpoint within minutes.
	for range 5 {
		alert("low", "ws-burst", "")
	}
	for _, sev := range []string{"informational", "low", "medium", "high", "critical"} {
		incident(sev, "new", 2, "", "")
	}
	incident("low", "under_investigation", 2, "", "")
	incident("medium", "new", 12, "", "")
	incident("informational", "new", 3, "TA0007 - Discovery", "")
	for _, t := range xdrTactics {
		incident("low", "new", 2, t, "")
	}
	incident("high", "new", 4, "TA0040 - Impact", "")
	incident("low", "resolved_true_positive", 2, "TA0006 - Credential Access", "")
	incident("low", "resolved_true_positive", 2, "", "Contained: host reimaged, credentials rotated")
	incident("high", "resolved_true_positive", 3, "", "")
	incident("critical", "resolved_true_positive", 5, "", "")
	incident("medium", "resolved_false_positive", 2, "", "")
	incident("medium", "resolved_duplicate", 2, "", "")
	return alerts, incidents
}

// GenerateCortexXDRStandIn writes the stand-in's Cortex XDR lines.
func GenerateCortexXDRStandIn(ctx context.Context) ([]*Line, error) {
	g, err := newStandinGen(xdrEnvelope())
	if err != nil {
		return nil, err
	}
	defer g.close()
	alerts, incidents := xdrRecords()
	future := []record{{"audit_log", "future:1", map[string]any{"id": 1, "description": "a record of a type the rules do not know"}}}
	if err := g.run(ctx, standinRun{scenario: "bulk", allStreams: xdrStreams, epochMillis: xdrEpochMillis, streams: []standinStream{
		{name: "alerts", records: append(alerts, future...)}, {name: "incidents", records: incidents}}}); err != nil {
		return nil, err
	}
	if err := g.standinHealth(ctx, xdrStreams, alerts[:2]); err != nil {
		return nil, err
	}
	return g.lines, nil
}

func xdr(field string) string { return "xdr." + field }

func cortexXDRCases() []CaseSpec {
	bulk := Scenario("bulk")
	alert := func(sev string, more ...Pred) func(*Pool) ([]*Line, error) {
		return One(append([]Pred{bulk, Is(xdr("type"), "alert"), Is(xdr("severity"), sev)}, more...)...)
	}
	tactic := func(t string) Pred { return Contains(xdr("mitre_tactic_id_and_name"), t) }
	incident := func(sev, status string, more ...Pred) func(*Pool) ([]*Line, error) {
		return One(append([]Pred{bulk, Is(xdr("type"), "incident"), Is(xdr("severity"), sev), Is(xdr("status"), status)}, more...)...)
	}
	itactic := func(t string) Pred { return Contains(xdr("mitre_tactics_ids_and_names"), t) }
	noTactic := Is(xdr("mitre_tactics_ids_and_names"), "[]")
	cases := healthCases("xdr", map[string]int{
		"base": 100599, "401": 100580, "429": 100581, "conn": 100582, "state": 100583, "400": 100584, "500": 100585,
		"unexpected-status": 100586, "invalid-response": 100587, "unexpected": 100588, "fatal": 100589, "delivery": 100590,
		"reduced": 100591, "cursor-reset": 100592, "gap": 100593, "invalid-event": 100594, "config": 100595, "too-large": 100598,
		"401-repeat": 100596, "delivery-repeat": 100597,
		"summary": 100501, "summary-failed": 100502, "summary-backlog": 100503, "summary-budget": 100504, "summary-locked": 100505, "summary-behind": 100506,
	})
	cases = append(cases,
		CaseSpec{"alert: informational severity", alert("informational"), []int{100510}},
		CaseSpec{"alert: low", alert("low", tactic("Execution")), []int{100511}},
		CaseSpec{"alert: medium", alert("medium"), []int{100512}},
		CaseSpec{"alert: high", alert("high", tactic("Execution")), []int{100513}},
		CaseSpec{"alert: critical", alert("critical"), []int{100514}},
		CaseSpec{"alert: low with Persistence", alert("low", tactic("Persistence")), []int{100515}},
		CaseSpec{"alert: low with Privilege Escalation", alert("low", tactic("Privilege Escalation")), []int{100516}},
		CaseSpec{"alert: low with Defense Evasion", alert("low", tactic("Defense Evasion")), []int{100517}},
		CaseSpec{"alert: low with Credential Access", alert("low", tactic("Credential Access")), []int{100518}},
		CaseSpec{"alert: low with Lateral Movement", alert("low", tactic("Lateral Movement")), []int{100519}},
		CaseSpec{"alert: low with Exfiltration", alert("low", tactic("Exfiltration")), []int{100520}},
		CaseSpec{"alert: low with Command and Control", alert("low", tactic("Command and Control")), []int{100521}},
		CaseSpec{"alert: low with Impact", alert("low", tactic("Impact")), []int{100522}},
		CaseSpec{"alert: high with Impact", alert("high", tactic("Impact")), []int{100522}},
		CaseSpec{"alerts: five on one endpoint", Repeat(5, bulk, Is(xdr("type"), "alert"), Is(xdr("host_name"), "ws-burst")), []int{100511, 100511, 100511, 100511, 100523}},
		CaseSpec{"incident: new, informational severity", incident("informational", "new", noTactic), []int{100530}},
		CaseSpec{"incident: new, low", incident("low", "new", noTactic), []int{100531}},
		CaseSpec{"incident: new, medium", incident("medium", "new", noTactic, Is(xdr("alert_count"), "2")), []int{100532}},
		CaseSpec{"incident: new, high", incident("high", "new", noTactic), []int{100533}},
		CaseSpec{"incident: new, critical", incident("critical", "new", noTactic), []int{100534}},
		CaseSpec{"incident: under investigation", incident("low", "under_investigation"), []int{100535}},
		CaseSpec{"incident: twelve correlated alerts", incident("medium", "new", Is(xdr("alert_count"), "12")), []int{100538}},
		CaseSpec{"incident: resolved true positive", incident("low", "resolved_true_positive", Not(Has(xdr("resolve_comment")))), []int{100550}},
		CaseSpec{"incident: resolved false positive", incident("medium", "resolved_false_positive"), []int{100551}},
		CaseSpec{"incident: resolved true positive with a note", incident("low", "resolved_true_positive", Has(xdr("resolve_comment"))), []int{100552}},
		CaseSpec{"incident: resolved true positive, high", incident("high", "resolved_true_positive"), []int{100553}},
		CaseSpec{"incident: resolved true positive, critical", incident("critical", "resolved_true_positive"), []int{100554}},
		CaseSpec{"incident: resolved as duplicate", incident("medium", "resolved_duplicate"), []int{100555}},
		CaseSpec{"incident: MITRE mapped, informational severity", incident("informational", "new", itactic("Discovery")), []int{100570}},
		CaseSpec{"incident: low with Persistence", incident("low", "new", itactic("Persistence")), []int{100571}},
		CaseSpec{"incident: low with Privilege Escalation", incident("low", "new", itactic("Privilege Escalation")), []int{100572}},
		CaseSpec{"incident: low with Defense Evasion", incident("low", "new", itactic("Defense Evasion")), []int{100573}},
		CaseSpec{"incident: low with Credential Access", incident("low", "new", itactic("Credential Access")), []int{100574}},
		CaseSpec{"incident: low with Lateral Movement", incident("low", "new", itactic("Lateral Movement")), []int{100575}},
		CaseSpec{"incident: low with Exfiltration", incident("low", "new", itactic("Exfiltration")), []int{100576}},
		CaseSpec{"incident: low with Command and Control", incident("low", "new", itactic("Command and Control")), []int{100577}},
		CaseSpec{"incident: low with Impact", incident("low", "new", itactic("Impact")), []int{100578}},
		CaseSpec{"incident: high with Impact", incident("high", "new", itactic("Impact")), []int{100578}},
		CaseSpec{"event type these rules do not know", One(bulk, Is(xdr("type"), "audit_log")), []int{100509}},
	)
	return cases
}
