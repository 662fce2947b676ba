package onepasswordbench

// The tables the generator draws from. Strings are pre-escaped JSON as
// Go's encoding/json writes it (UTF-8 kept as is).

// firstNames and lastNames: {display, e-mail part}.
var firstNames = [][2]string{
	{"Alexandra", "alexandra"}, {"Ben", "ben"}, {"Catherine", "catherine"}, {"Dmitri", "dmitri"},
	{"Elizabeth", "elizabeth"}, {"Farah", "farah"}, {"Gregory", "gregory"}, {"Hannah", "hannah"},
	{"Ibrahim", "ibrahim"}, {"Jo", "jo"}, {"Katarzyna", "katarzyna"}, {"Liam", "liam"},
	{"Maximilian", "maximilian"}, {"Nadia", "nadia"}, {"Oluwaseun", "oluwaseun"}, {"Priya", "priya"},
	{"Quentin", "quentin"}, {"Rosalind", "rosalind"}, {"Sebastian", "sebastian"}, {"Tomás", "tomas"},
	{"Ugo", "ugo"}, {"Valentina", "valentina"}, {"William", "william"}, {"Xiaoming", "xiaoming"},
	{"Yasmin", "yasmin"}, {"Zachary", "zachary"}, {"Anne-Marie", "anne-marie"}, {"Christopher", "christopher"},
}

var lastNames = [][2]string{
	{"Smith", "smith"}, {"Okonkwo-Adebayo", "okonkwo-adebayo"}, {"Nguyen", "nguyen"}, {"Van der Berg", "vanderberg"},
	{"Fitzgerald", "fitzgerald"}, {"Kowalczyk", "kowalczyk"}, {"Rodríguez", "rodriguez"}, {"Li", "li"},
	{"Abernathy", "abernathy"}, {"Hernández García", "hernandez.garcia"}, {"O'Sullivan", "osullivan"}, {"Patel", "patel"},
	{"Schmidt", "schmidt"}, {"Yamamoto", "yamamoto"}, {"Andersson", "andersson"}, {"Christodoulou", "christodoulou"},
	{"Kim", "kim"}, {"Montgomery-Wright", "montgomery-wright"}, {"Rossi", "rossi"}, {"Ivanova", "ivanova"},
}

// nonASCIINames: {display, e-mail first, e-mail last}.
var nonASCIINames = [][3]string{
	{"Zoë Ångström", "zoe", "angstrom"}, {"李雷", "lei", "li"}, {"Søren Kierkegård", "soren", "kierkegard"},
	{"José Núñez", "jose", "nunez"}, {"Μαρία Παπαδοπούλου", "maria", "papadopoulou"}, {"Ørjan Ødegård", "orjan", "odegard"},
	{"田中 太郎", "taro", "tanaka"}, {"Łukasz Wałęsa", "lukasz", "walesa"},
}

var domains = []string{"northwind-logistics.example.com", "corp.example.com", "eu.contoso-holdings.example", "fabrikam-engineering.example.org"}

var middleNames = []string{"J.", "Marie", "Alexander", "K.", "Elizabeth", "de la Cruz"}

type auditAction struct {
	action, object string
	userObject     bool
	aux            string // "", "user", "device", "vault", "info"
}

// auditActions, weighted by repetition: item and vault work dominates,
// user administration (object_details) is 1 in 6.
var auditActions = []auditAction{
	{"create", "item", false, "vault"}, {"update", "item", false, "vault"}, {"update", "item", false, "vault"},
	{"delete", "item", false, "vault"}, {"view", "itemhist", false, "vault"}, {"export", "items", false, "vault"},
	{"grant", "vault", false, "user"}, {"revoke", "vault", false, "user"}, {"join", "gm", false, "user"},
	{"leave", "gm", false, "user"}, {"create", "vault", false, ""}, {"update", "vault", false, ""},
	{"create", "device", false, "device"}, {"unlink", "device", false, "device"}, {"create", "cred", false, "device"},
	{"suspend", "user", true, ""}, {"reactive", "user", true, ""}, {"enblmfa", "user", true, "info"},
	{"create", "user", true, ""}, {"create", "invite", false, "info"}, {"updatfw", "account", false, "info"},
	{"create", "satoken", false, "info"}, {"view", "report", false, "info"}, {"enblsso", "sso", false, ""},
}

var auxInfos = []string{"A", "R", "M", "manager", "allow-all", "TOTP", "Okta", "Microsoft Entra ID", "Engineering - Production Secrets"}

var vaultPerms = []string{"allow_viewing,allow_editing", "allow_viewing", "allow_viewing,allow_editing,allow_managing", "import_items,export_items,print_items"}

var devices = []string{
	"MacBook Pro (14-inch, 2023) — macOS 14.4.1", "Chrome 122.0 on Windows 10.0.22631", "iPhone 15 Pro — iOS 17.4",
	"Pixel 8 — Android 14", "Firefox 123.0 on Ubuntu 22.04", "Surface Laptop 5 — Windows 11 Pro",
}

type signinKind struct{ category, typ, detail string }

// signinKinds: 38 of 50 succeed (76 %), 9 fail without details, 3 are
// refused by a firewall rule and carry details (6 %).
var signinKinds = func() []signinKind {
	var k []signinKind
	for i := 0; i < 22; i++ {
		k = append(k, signinKind{"success", "credentials_ok", ""})
	}
	for i := 0; i < 10; i++ {
		k = append(k, signinKind{"success", "mfa_ok", ""})
	}
	for i := 0; i < 6; i++ {
		k = append(k, signinKind{"success", "federated", ""})
	}
	k = append(k,
		signinKind{"credentials_failed", "password_secret_bad", ""}, signinKind{"credentials_failed", "password_secret_bad", ""},
		signinKind{"credentials_failed", "password_secret_bad", ""}, signinKind{"mfa_failed", "totp_bad", ""},
		signinKind{"mfa_failed", "totp_timeout", ""}, signinKind{"mfa_failed", "duo_timeout", ""},
		signinKind{"sso_failed", "sso_user_mismatch", ""}, signinKind{"modern_version_failed", "modern_version_old", ""},
		signinKind{"mfa_failed", "mfa_missing", ""},
		signinKind{"firewall_failed", "country_blocked", "country"}, signinKind{"firewall_failed", "ip_blocked", "ip"},
		signinKind{"firewall_reported_success", "anonymous_blocked", "ip"},
	)
	return k
}()

var itemActions = []string{"fill", "fill", "fill", "fill", "reveal", "reveal", "secure-copy", "secure-copy", "server-fetch", "server-fetch", "server-update", "enter-item-edit-mode", "share", "export", "select-sso-provider", "other"}

// clients up to, not including, ip_address; weighted towards the browser
// extension and the web app.
var clients = []string{
	`{"app_name":"1Password Browser Extension","app_version":"20250","platform_name":"Chrome","platform_version":"122.0.6261.129","os_name":"MacOSX","os_version":"14.4.1"`,
	`{"app_name":"1Password Browser Extension","app_version":"20250","platform_name":"Chrome","platform_version":"122.0.6261.129","os_name":"Windows","os_version":"10.0.22631"`,
	`{"app_name":"1Password Browser Extension","app_version":"20248","platform_name":"Firefox","platform_version":"123.0.1","os_name":"Windows","os_version":"10.0.19045"`,
	`{"app_name":"1Password Browser Extension","app_version":"20250","platform_name":"Microsoft Edge","platform_version":"122.0.2365.92","os_name":"Windows","os_version":"10.0.22631"`,
	`{"app_name":"1Password for Web","app_version":"1901","platform_name":"Chrome","platform_version":"122.0.6261.129","os_name":"MacOSX","os_version":"14.3"`,
	`{"app_name":"1Password for Web","app_version":"1901","platform_name":"Safari","platform_version":"17.3.1","os_name":"MacOSX","os_version":"14.3"`,
	`{"app_name":"1Password for Mac","app_version":"81004003","platform_name":"Apple Inc.","platform_version":"MacBookPro18,3","os_name":"MacOSX","os_version":"14.4.1"`,
	`{"app_name":"1Password for Windows","app_version":"81004012","platform_name":"Microsoft Corporation","platform_version":"Surface Laptop 5","os_name":"Windows","os_version":"10.0.22631"`,
	`{"app_name":"1Password for iOS","app_version":"81004003","platform_name":"Apple","platform_version":"iPhone15,2","os_name":"iOS","os_version":"17.4"`,
	`{"app_name":"1Password for Android","app_version":"81004001","platform_name":"Google","platform_version":"Pixel 8","os_name":"Android","os_version":"14"`,
	`{"app_name":"1Password CLI","app_version":"2250001","platform_name":"go","platform_version":"go1.22.1","os_name":"linux","os_version":"6.5.0-1016-aws"`,
	`{"app_name":"1Password SCIM Bridge","app_version":"2090300","platform_name":"Go","platform_version":"go1.22.1","os_name":"Linux","os_version":"5.15.0"`,
}

type city struct{ code, country, region, name, lat, lon string }

var cities = []city{
	{"US", "United States", "California", "San Francisco", "37.7749", "-122.4194"},
	{"US", "United States", "New York", "New York City", "40.7128", "-74.006"},
	{"US", "United States", "Washington", "Seattle", "47.6062", "-122.3321"},
	{"US", "United States", "Texas", "Austin", "30.2672", "-97.7431"},
	{"US", "United States", "Illinois", "Chicago", "41.8781", "-87.6298"},
	{"US", "United States", "Massachusetts", "Boston", "42.3601", "-71.0589"},
	{"US", "United States", "Colorado", "Denver", "39.7392", "-104.9903"},
	{"US", "United States", "Georgia", "Atlanta", "33.749", "-84.388"},
	{"US", "United States", "Virginia", "Ashburn", "39.0438", "-77.4874"},
	{"US", "United States", "Oregon", "Portland", "45.5152", "-122.6784"},
	{"CA", "Canada", "Ontario", "Toronto", "43.6532", "-79.3832"},
	{"CA", "Canada", "Quebec", "Montréal", "45.5019", "-73.5674"},
	{"CA", "Canada", "British Columbia", "Vancouver", "49.2827", "-123.1207"},
	{"GB", "United Kingdom", "England", "London", "51.5072", "-0.1276"},
	{"GB", "United Kingdom", "Scotland", "Edinburgh", "55.9533", "-3.1883"},
	{"IE", "Ireland", "Leinster", "Dublin", "53.3498", "-6.2603"},
	{"DE", "Germany", "Hesse", "Frankfurt am Main", "50.1109", "8.6821"},
	{"DE", "Germany", "Bavaria", "Munich", "48.1351", "11.582"},
	{"DE", "Germany", "Berlin", "Berlin", "52.52", "13.405"},
	{"NL", "Netherlands", "North Holland", "Amsterdam", "52.3676", "4.9041"},
	{"FR", "France", "Île-de-France", "Paris", "48.8566", "2.3522"},
	{"ES", "Spain", "Community of Madrid", "Madrid", "40.4168", "-3.7038"},
	{"IT", "Italy", "Lombardy", "Milan", "45.4642", "9.19"},
	{"CH", "Switzerland", "Zurich", "Zürich", "47.3769", "8.5417"},
	{"SE", "Sweden", "Stockholm County", "Stockholm", "59.3293", "18.0686"},
	{"PL", "Poland", "Masovian Voivodeship", "Warsaw", "52.2297", "21.0122"},
	{"IN", "India", "Karnataka", "Bengaluru", "12.9716", "77.5946"},
	{"IN", "India", "Maharashtra", "Mumbai", "19.076", "72.8777"},
	{"SG", "Singapore", "Central Singapore", "Singapore", "1.3521", "103.8198"},
	{"JP", "Japan", "Tokyo", "Tokyo", "35.6762", "139.6503"},
	{"AU", "Australia", "New South Wales", "Sydney", "-33.8688", "151.2093"},
	{"AU", "Australia", "Victoria", "Melbourne", "-37.8136", "144.9631"},
	{"BR", "Brazil", "São Paulo", "São Paulo", "-23.5558", "-46.6396"},
	{"MX", "Mexico", "Mexico City", "Mexico City", "19.4326", "-99.1332"},
	{"ZA", "South Africa", "Western Cape", "Cape Town", "-33.9249", "18.4241"},
	{"NG", "Nigeria", "Lagos", "Lagos", "6.5244", "3.3792"},
	{"AE", "United Arab Emirates", "Dubai", "Dubai", "25.2048", "55.2708"},
	{"IL", "Israel", "Tel Aviv District", "Tel Aviv-Yafo", "32.0853", "34.7818"},
	{"KR", "South Korea", "Seoul", "Seoul", "37.5665", "126.978"},
	{"NZ", "New Zealand", "Auckland", "Auckland", "-36.8485", "174.7633"},
}

var words = []string{"managed", "device", "enrolled", "through", "the", "corporate", "MDM", "profile", "serial", "C02XK1ZJMD6M", "owner", "requested", "access", "for", "quarterly", "audit", "of", "production", "credentials", "rotation", "policy"}
