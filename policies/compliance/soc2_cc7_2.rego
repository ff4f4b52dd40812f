# SOC 2 CC7.2, system monitoring: the platform watches its services and its own controls, and an
# anomaly reaches a person.
package compliance.controls.soc2_cc7_2

import data.compliance.lib

control := {"id": "soc2-cc7.2", "framework": "soc2", "reference": "CC7.2", "title": "System monitoring"}

scope := "the monitoring stack and the compliance check itself"

applicable := true

# The alerts that must exist: the services are up, they answer within their SLO, the registry is
# backed up; with a scheduled compliance check, its own alert too (services/monitoring/rules.py).
required_alerts contains name if some name in {"ModelServerDown", "ModelErrorRatioAboveSLO", "RegistryDown", "RegistryBackupMissed"}

required_alerts contains "ComplianceControlFailing" if input.blueprint.platform.compliance

rules_configmap := cm if {
	some cm in lib.objects("ConfigMap")
	cm.metadata.name == "prometheus-rules"
}

alerts := {rule.alert |
	some group in yaml.unmarshal(rules_configmap.data["rules.yml"]).groups
	some rule in group.rules
	rule.alert
}

findings contains {
	"check": "alert-rules",
	"object": "ConfigMap mlops-monitoring/prometheus-rules",
	"gap": sprintf("no alert %s: nobody learns when it happens", [name]),
	"fix": "deploy the platform's Monitoring component, whose rules come from services/monitoring/rules.py",
} if {
	some name in required_alerts
	not name in alerts
}

evidence contains {
	"check": "alert-rules",
	"object": lib.named(rules_configmap),
	"detail": sprintf("%d alerts, among them %s", [count(alerts), concat(", ", sort([n | some n in required_alerts]))]),
} if {
	count(required_alerts - alerts) == 0
}

# Every model server is scraped.
findings contains {
	"check": "model-servers-scraped",
	"object": lib.named(deployment),
	"gap": "the model server's pods are not scraped: its errors and latency are not measured",
	"fix": "annotate the pod template with prometheus.io/scrape: \"true\" (infra/k8s.py scrape_annotations)",
} if {
	some deployment in lib.objects("Deployment")
	deployment.metadata.labels["app.kubernetes.io/component"] == "model-server"
	object.get(deployment.spec.template.metadata, ["annotations", "prometheus.io/scrape"], "") != "true"
}

evidence contains {
	"check": "model-servers-scraped",
	"object": sprintf("%d model-server Deployments", [count(servers)]),
	"detail": "every pod template annotated prometheus.io/scrape: \"true\"",
} if {
	servers := [d | some d in lib.objects("Deployment"); d.metadata.labels["app.kubernetes.io/component"] == "model-server"]
	count(servers) > 0
}

# An alert must reach someone: a receiver with a notification target for the default route.
alertmanager := yaml.unmarshal(cm.data["alertmanager.yml"]) if {
	some cm in lib.objects("ConfigMap")
	cm.metadata.name == "alertmanager-config"
}

default_receiver := receiver if {
	some receiver in alertmanager.receivers
	receiver.name == alertmanager.route.receiver
}

notifies(receiver) if {
	some key, targets in receiver
	endswith(key, "_configs")
	count(targets) > 0
}

findings contains {
	"check": "alerts-reach-a-person",
	"object": "ConfigMap mlops-monitoring/alertmanager-config",
	"gap": sprintf("the default receiver %q has no notification target: alerts fire and nobody is told", [default_receiver.name]),
	"fix": "give Alertmanager's default receiver an email, chat or paging target (services/monitoring/config.py)",
} if {
	not notifies(default_receiver)
}

findings contains {
	"check": "alerts-reach-a-person",
	"object": "ConfigMap mlops-monitoring/alertmanager-config",
	"gap": "no Alertmanager configuration: alerts go nowhere",
	"fix": "deploy the platform's Monitoring component",
} if {
	not alertmanager
}

# The controls themselves are checked on a schedule, not only when someone runs the report.
findings contains {
	"check": "compliance-checked-on-schedule",
	"object": "CronJob mlops-system/compliance-check",
	"gap": "the compliance controls are checked only when someone runs the report",
	"fix": "declare platform.compliance (residency, schedule): the cluster then runs the check and alerts on a failing control",
} if {
	not scheduled_check
}

scheduled_check := cronjob if {
	some cronjob in lib.objects("CronJob")
	cronjob.metadata.name == "compliance-check"
}

evidence contains {
	"check": "compliance-checked-on-schedule",
	"object": lib.named(scheduled_check),
	"detail": sprintf("schedule %q; a failing control raises ComplianceControlFailing", [scheduled_check.spec.schedule]),
} if {
	scheduled_check
}
