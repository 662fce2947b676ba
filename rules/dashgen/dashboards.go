package dashgen

// All returns the dashboards shipped in rules/dashboards.
func All() []Dashboard {
	return []Dashboard{onePassword(), proofpoint(), cortexXDR(), health()}
}

const (
	signin   = "data.op.event_type:signin_attempt"
	itemuse  = "data.op.event_type:item_usage"
	audit    = "data.op.event_type:audit_event"
	failures = "data.op.category:(credentials_failed or mfa_failed)"
)

func onePassword() Dashboard {
	return Dashboard{
		File:        "onepassword.ndjson",
		Title:       "wazuh-pull 1Password",
		Description: "1Password sign-in attempts, item usage and administrative actions (rules 100700-100799)",
		Query:       "data.integration:1password",
		Panels: []Panel{
			{Title: "Successful sign-ins", Kind: "metric", Filters: []Filter{{"Successful", "data.op.category:success"}}, Width: 12, Height: 7},
			{Title: "Wrong credentials", Kind: "metric", Filters: []Filter{{"Credentials failed", "data.op.category:credentials_failed"}}, Width: 12, Height: 7},
			{Title: "MFA failures", Kind: "metric", Filters: []Filter{{"MFA failed", "data.op.category:mfa_failed"}}, Width: 12, Height: 7},
			{Title: "Firewall-blocked sign-ins", Kind: "metric", Filters: []Filter{{"Firewall blocked", "data.op.category:firewall_failed"}}, Width: 12, Height: 7},
			{Title: "Sign-ins by category", Kind: "pie", Query: signin, Terms: []Term{{Field: "data.op.category", Size: 8, Label: "Category"}}, Width: 16},
			{Title: "Sign-ins over time", Kind: "line", Query: signin, Histogram: true, Split: "data.op.category", Width: 32},
			{Title: "Most active identities", Kind: "table", Query: signin, Terms: []Term{{Field: "data.op.target_user.email", Label: "User"}}, Width: 16},
			{Title: "Failed sign-ins by source address", Kind: "table", Query: signin + " and " + failures,
				Terms: []Term{{Field: "data.op.client.ip_address", Label: "Address"}, {Field: "data.op.country", Size: 3, Label: "Country"}}, Width: 16},
			{Title: "Sign-ins by location", Kind: "table", Query: signin,
				Terms: []Term{{Field: "data.op.location.country", Label: "Country"}, {Field: "data.op.location.city", Size: 5, Label: "City"}}, Width: 16},
			{Title: "Item usage", Kind: "metric", Filters: []Filter{{"Item usage", itemuse}}, Width: 12, Height: 7},
			{Title: "Item reveals and copies", Kind: "metric", Filters: []Filter{{"Revealed or copied", itemuse + " and data.op.action:(reveal or secure-copy)"}}, Width: 12, Height: 7},
			{Title: "Item exports", Kind: "metric", Filters: []Filter{{"Exported", itemuse + " and data.op.action:export"}}, Width: 12, Height: 7},
			{Title: "Admin actions", Kind: "metric", Filters: []Filter{{"Admin actions", audit}}, Width: 12, Height: 7},
			{Title: "Item usage by action", Kind: "pie", Query: itemuse, Terms: []Term{{Field: "data.op.action", Label: "Action"}}, Width: 16},
			{Title: "Item usage by app", Kind: "pie", Query: itemuse, Terms: []Term{{Field: "data.op.client.app_name", Size: 5, Label: "App"}}, Width: 16},
			{Title: "Clients by platform", Kind: "pie", Query: itemuse, Terms: []Term{{Field: "data.op.client.platform_name", Size: 5, Label: "Platform"}}, Width: 16},
			{Title: "Item usage by OS", Kind: "horizontal_bar", Query: itemuse, Terms: []Term{{Field: "data.op.client.os_name", Size: 8, Label: "OS"}}, Width: 16},
			{Title: "Item usage over time", Kind: "line", Query: itemuse, Histogram: true, Split: "data.op.action", Width: 32},
			{Title: "Most used items", Kind: "table", Query: itemuse,
				Terms: []Term{{Field: "data.op.item_uuid", Label: "Item"}, {Field: "data.op.vault_uuid", Size: 1, Label: "Vault"}}, Width: 16},
			{Title: "Item usage by user", Kind: "table", Query: itemuse, Terms: []Term{{Field: "data.op.user.email", Label: "User"}}, Width: 16},
			{Title: "Admin actions by action", Kind: "table", Query: audit,
				Terms: []Term{{Field: "data.op.action", Label: "Action"}, {Field: "data.op.object_type", Size: 5, Label: "Object"}}, Width: 16},
			{Title: "Admin actions by actor", Kind: "table", Query: audit, Terms: []Term{{Field: "data.op.actor_details.email", Label: "Actor"}}, Width: 16},
			{Title: "Alerts by rule", Kind: "table", Query: "rule.level >= 5",
				Terms: []Term{{Field: "rule.id", Size: 20, Label: "Rule"}, {Field: "rule.description", Size: 1, Label: "Description"}}, Width: 48},
			{Title: "Sign-in attempts", Kind: "search", Query: signin,
				Columns: []string{"rule.description", "data.op.category", "data.op.type", "data.op.target_user.email", "data.op.client.ip_address", "data.op.country", "data.op.location.city"}, Width: 48, Height: 15},
			{Title: "Item usage events", Kind: "search", Query: itemuse,
				Columns: []string{"data.op.action", "data.op.user.email", "data.op.item_uuid", "data.op.vault_uuid", "data.op.client.app_name", "data.op.client.ip_address"}, Width: 48, Height: 15},
			{Title: "Admin action log", Kind: "search", Query: audit,
				Columns: []string{"rule.description", "data.op.action", "data.op.object_type", "data.op.object_uuid", "data.op.actor_details.email", "data.op.session.ip"}, Width: 48, Height: 15},
		},
	}
}

const (
	messages = "data.pp.event_type:(messagesBlocked or messagesDelivered)"
	clicks   = "data.pp.event_type:(clicksBlocked or clicksPermitted)"
)

func proofpoint() Dashboard {
	return Dashboard{
		File:        "proofpoint.ndjson",
		Title:       "wazuh-pull Proofpoint TAP",
		Description: "Proofpoint TAP messages, clicks and attacked people (rules 100600-100699)",
		Query:       "data.integration:proofpoint",
		Panels: []Panel{
			{Title: "Messages blocked", Kind: "metric", Filters: []Filter{{"Blocked", "data.pp.event_type:messagesBlocked"}}, Width: 12, Height: 7},
			{Title: "Threats delivered", Kind: "metric", Filters: []Filter{{"Delivered", "data.pp.event_type:messagesDelivered"}}, Width: 12, Height: 7},
			{Title: "Clicks blocked", Kind: "metric", Filters: []Filter{{"Blocked", "data.pp.event_type:clicksBlocked"}}, Width: 12, Height: 7},
			{Title: "Clicks permitted", Kind: "metric", Filters: []Filter{{"Permitted", "data.pp.event_type:clicksPermitted"}}, Width: 12, Height: 7},
			{Title: "Threat events over time", Kind: "line", Query: messages + " or " + clicks, Histogram: true, Split: "data.pp.event_type", Width: 32},
			{Title: "Clicks by classification", Kind: "pie", Query: clicks, Terms: []Term{{Field: "data.pp.classification", Size: 5, Label: "Classification"}}, Width: 16},
			{Title: "Users clicking threats", Kind: "table", Query: clicks,
				Terms: []Term{{Field: "data.pp.recipient", Label: "User"}, {Field: "data.pp.event_type", Size: 2, Label: "Outcome"}}, Width: 16},
			{Title: "Threat URLs clicked", Kind: "table", Query: clicks,
				Terms: []Term{{Field: "data.pp.url", Label: "URL"}, {Field: "data.pp.classification", Size: 1, Label: "Classification"}}, Width: 16},
			{Title: "Recipients of delivered threats", Kind: "table", Query: "data.pp.event_type:messagesDelivered", Terms: []Term{{Field: "data.pp.recipient", Label: "Recipient"}}, Width: 16},
			{Title: "Threat senders", Kind: "table", Query: messages,
				Terms: []Term{{Field: "data.pp.senderIP", Label: "Sender IP"}, {Field: "data.pp.headerFrom", Size: 3, Label: "From"}}, Width: 16},
			{Title: "Threat subjects", Kind: "table", Query: messages, Terms: []Term{{Field: "data.pp.subject", Label: "Subject"}}, Width: 16},
			{Title: "Very Attacked People", Kind: "table", Query: "data.pp.threatStatistics.attackIndex >= 0",
				Terms: []Term{{Field: "data.pp.identity.emails", Label: "Person"}, {Field: "data.pp.threatStatistics.attackIndex", Size: 1, Label: "Attack index"}}, Width: 24},
			{Title: "Top clickers", Kind: "table", Query: "data.pp.clickStatistics.clickCount >= 0",
				Terms: []Term{{Field: "data.pp.identity.emails", Label: "Person"}, {Field: "data.pp.clickStatistics.clickCount", Size: 1, Label: "Threat clicks"}}, Width: 24},
			{Title: "Threat alerts", Kind: "search", Query: "rule.level >= 5 and not rule.groups:integration_error",
				Columns: []string{"rule.description", "data.pp.event_type", "data.pp.recipient", "data.pp.sender", "data.pp.senderIP", "data.pp.subject", "data.pp.url", "data.pp.classification"}, Width: 48, Height: 15},
		},
	}
}

const (
	alerts    = "data.xdr.type:alert"
	incidents = "data.xdr.type:incident"
)

func cortexXDR() Dashboard {
	sev := func(s string) Panel {
		return Panel{Title: "Alerts " + s, Kind: "metric", Filters: []Filter{{s, alerts + " and data.xdr.severity:" + s}}, Width: 8, Height: 7}
	}
	return Dashboard{
		File:        "cortex_xdr.ndjson",
		Title:       "wazuh-pull Cortex XDR",
		Description: "Cortex XDR alerts and incidents (rules 100500-100599)",
		Query:       "data.integration:cortex_xdr",
		Panels: []Panel{
			{Title: "Incidents", Kind: "metric", Filters: []Filter{{"Incidents", incidents}}, Width: 8, Height: 7},
			{Title: "Open incidents", Kind: "metric", Filters: []Filter{{"Open", incidents + " and data.xdr.status:(new or under_investigation)"}}, Width: 8, Height: 7},
			sev("low"), sev("medium"), sev("high"), sev("critical"),
			{Title: "Alerts over time", Kind: "line", Query: alerts, Histogram: true, Split: "data.xdr.severity", Width: 32},
			{Title: "Alert event types", Kind: "tagcloud", Query: alerts, Terms: []Term{{Field: "data.xdr.event_type", Size: 10}}, Width: 16},
			{Title: "Alerts by category", Kind: "pie", Query: alerts, Terms: []Term{{Field: "data.xdr.category", Size: 8, Label: "Category"}}, Width: 16},
			{Title: "Noisiest endpoints", Kind: "table", Query: alerts,
				Terms: []Term{{Field: "data.xdr.host_name", Label: "Endpoint"}, {Field: "data.xdr.host_ip", Size: 3, Label: "Address"}}, Width: 16},
			{Title: "Alerts by OS", Kind: "horizontal_bar", Query: alerts, Terms: []Term{{Field: "data.xdr.agent_os_sub_type", Size: 8, Label: "OS"}}, Width: 16},
			{Title: "Causality actor process paths", Kind: "table", Query: alerts, Terms: []Term{{Field: "data.xdr.causality_actor_process_image_path", Label: "Process"}}, Width: 24},
			{Title: "Alert MITRE tactics", Kind: "table", Query: alerts, Terms: []Term{{Field: "data.xdr.mitre_tactic_id_and_name", Label: "Tactic"}}, Width: 24},
			{Title: "Incidents by status", Kind: "pie", Query: incidents, Terms: []Term{{Field: "data.xdr.status", Size: 12, Label: "Status"}}, Width: 16},
			{Title: "Incidents by headline", Kind: "table", Query: incidents,
				Terms: []Term{{Field: "data.xdr.description", Label: "Incident"}, {Field: "data.xdr.severity", Size: 1, Label: "Severity"}}, Width: 32},
			{Title: "Incident MITRE tactics", Kind: "table", Query: incidents, Terms: []Term{{Field: "data.xdr.mitre_tactics_ids_and_names", Label: "Tactic"}}, Width: 24},
			{Title: "Alerts by rule", Kind: "table", Query: "rule.level >= 5",
				Terms: []Term{{Field: "rule.id", Size: 20, Label: "Rule"}, {Field: "rule.description", Size: 1, Label: "Description"}}, Width: 24},
			{Title: "Alerts", Kind: "search", Query: alerts,
				Columns: []string{"rule.description", "data.xdr.name", "data.xdr.severity", "data.xdr.host_name", "data.xdr.host_ip", "data.xdr.user_name", "data.xdr.event_type", "data.xdr.causality_actor_process_image_path"}, Width: 48, Height: 15},
			{Title: "Incidents log", Kind: "search", Query: incidents,
				Columns: []string{"rule.description", "data.xdr.incident_id", "data.xdr.severity", "data.xdr.status", "data.xdr.alert_count", "data.xdr.assigned_user_pretty_name", "data.xdr.xdr_url"}, Width: 48, Height: 15},
		},
	}
}

const (
	errorsQ  = "rule.groups:integration_error"
	backlogQ = "rule.groups:(onepassword_backlog or proofpoint_backlog or cortex_xdr_backlog)"
	runsQ    = "data.op.event_type:run_summary or data.pp.event_type:run_summary or data.xdr.type:run_summary"
)

func health() Dashboard {
	return Dashboard{
		File:        "integration_health.ndjson",
		Title:       "wazuh-pull Integration health",
		Description: "Collector runs, errors, backlogs and delivery of the 1Password, Proofpoint and Cortex XDR integrations",
		Query:       "data.integration:(1password or proofpoint or cortex_xdr)",
		Panels: []Panel{
			{Title: "Integration errors", Kind: "metric", Filters: []Filter{{"Errors", errorsQ}}, Width: 10, Height: 7},
			{Title: "Delivery failures", Kind: "metric", Filters: []Filter{{"Not delivered", "rule.groups:delivery_failure"}}, Width: 10, Height: 7},
			{Title: "Collection gaps", Kind: "metric", Filters: []Filter{{"Gaps", "rule.groups:collection_gap"}}, Width: 10, Height: 7},
			{Title: "Request budget stops", Kind: "metric", Filters: []Filter{{"Budget stops", "rule.groups:request_budget"}}, Width: 9, Height: 7},
			{Title: "Runs with a backlog", Kind: "metric", Filters: []Filter{{"Backlog", backlogQ}}, Width: 9, Height: 7},
			{Title: "Collection runs", Kind: "line", Query: runsQ, Histogram: true, Split: "data.integration", Width: 24},
			{Title: "Errors over time", Kind: "line", Query: errorsQ, Histogram: true, Split: "data.integration", Width: 24},
			{Title: "Errors by integration and rule", Kind: "table", Query: errorsQ,
				Terms: []Term{{Field: "data.integration", Size: 3, Label: "Integration"}, {Field: "rule.description", Size: 20, Label: "Error"}}, Width: 48},
			{Title: "1Password events per run", Kind: "line", Query: "data.op.event_type:run_summary", Histogram: true,
				Sum: []string{"data.op.audit_events", "data.op.signin_events", "data.op.itemusage_events"}, Width: 24},
			{Title: "Backlogs by integration", Kind: "table", Query: backlogQ,
				Terms: []Term{{Field: "data.integration", Size: 3, Label: "Integration"}, {Field: "rule.description", Size: 5, Label: "Run"}}, Width: 24},
			{Title: "Proofpoint events per run", Kind: "line", Query: "data.pp.event_type:run_summary", Histogram: true,
				Sum: []string{"data.pp.siem_events", "data.pp.people_events"}, Width: 24},
			{Title: "Cortex XDR events per run", Kind: "line", Query: "data.xdr.type:run_summary", Histogram: true,
				Sum: []string{"data.xdr.alerts_events", "data.xdr.incidents_events"}, Width: 24},
			{Title: "Integration error log", Kind: "search", Query: errorsQ,
				Columns: []string{"data.integration", "rule.description", "data.op.error_code", "data.pp.error_code", "data.xdr.error_code", "data.op.error_detail", "data.pp.error_detail", "data.xdr.error_detail"}, Width: 48, Height: 15},
		},
	}
}
