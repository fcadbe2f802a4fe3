//! Microsoft Advertising's `TimeZone` values (Customer Management `TimeZoneType`; Bing Ads API
//! guide "Time Zones") mapped to IANA zones, after Microsoft's own table in "Mapping account time
//! zone values" (Microsoft Advertising Scripts docs). Spellings differ between the two pages
//! (`AlmatyNovosibirsk` / `Almaty_Novosibirsk`); names are compared without `_` and case.

/// (Microsoft value, IANA zone).
const ZONES: [(&str, &str); 80] = [
    ("AbuDhabiMuscat", "Asia/Dubai"),
    ("Adelaide", "Australia/Adelaide"),
    ("Alaska", "America/Anchorage"),
    ("AlmatyNovosibirsk", "Asia/Novosibirsk"),
    ("AmsterdamBerlinBernRomeStockholmVienna", "Europe/Berlin"),
    ("Arizona", "America/Phoenix"),
    ("AstanaDhaka", "Asia/Almaty"),
    ("AthensBuckarestIstanbul", "Europe/Minsk"),
    ("AthensIslandanbulMinsk", "Europe/Minsk"),
    ("AtlanticTimeCanada", "America/Halifax"),
    ("AucklandWellington", "Pacific/Auckland"),
    ("Azores", "Atlantic/Azores"),
    ("Baghdad", "Asia/Baghdad"),
    ("BakuTbilisiYerevan", "Asia/Baku"),
    ("BangkokHanoiJakarta", "Asia/Bangkok"),
    ("BeijingChongqingHongKongUrumqi", "Asia/Shanghai"),
    (
        "BelgradeBratislavaBudapestLjubljanaPrague",
        "Europe/Budapest",
    ),
    ("BogotaLimaQuito", "America/Bogota"),
    ("Brasilia", "America/Sao_Paulo"),
    ("Brisbane", "Australia/Brisbane"),
    ("BrusselsCopenhagenMadridParis", "Europe/Paris"),
    ("Bucharest", "Europe/Bucharest"),
    ("BuenosAiresGeorgetown", "America/Argentina/Buenos_Aires"),
    ("Cairo", "Africa/Cairo"),
    ("CanberraMelbourneSydney", "Australia/Sydney"),
    ("CapeVerdeIsland", "Atlantic/Cape_Verde"),
    ("CaracasLaPaz", "America/Caracas"),
    ("CasablancaMonrovia", "Africa/Casablanca"),
    ("CentralAmerica", "America/Guatemala"),
    ("CentralTimeUSCanada", "America/Chicago"),
    ("ChennaiKolkataMumbaiNewDelhi", "Asia/Kolkata"),
    ("ChihuahuaLaPazMazatlan", "America/Chihuahua"),
    ("Darwin", "Australia/Darwin"),
    ("EasternTimeUSCanada", "America/New_York"),
    ("Ekaterinburg", "Asia/Yekaterinburg"),
    ("FijiKamchatkaMarshallIsland", "Pacific/Fiji"),
    ("Greenland", "America/Nuuk"),
    (
        "GreenwichMeanTimeDublinEdinburghLisbonLondon",
        "Europe/London",
    ),
    ("GuadalajaraMexicoCityMonterrey", "America/Mexico_City"),
    ("GuamPortMoresby", "Pacific/Port_Moresby"),
    ("HararePretoria", "Africa/Harare"),
    ("Hawaii", "Pacific/Honolulu"),
    ("HelsinkiKyivRigaSofiaTallinnVilnius", "Europe/Kyiv"),
    ("Hobart", "Australia/Hobart"),
    ("IndianaEast", "America/Indiana/Indianapolis"),
    ("InternationalDateLineWest", "Etc/GMT+12"),
    ("IrkutskUlaanBataar", "Asia/Irkutsk"),
    ("IslandamabadKarachiTashkent", "Asia/Tashkent"),
    ("Jerusalem", "Asia/Jerusalem"),
    ("Kabul", "Asia/Kabul"),
    ("Kathmandu", "Asia/Kathmandu"),
    ("Krasnoyarsk", "Asia/Krasnoyarsk"),
    ("KualaLumpurSingapore", "Asia/Singapore"),
    ("KuwaitRiyadh", "Asia/Riyadh"),
    ("MagadanSolomonIslandNewCaledonia", "Asia/Magadan"),
    ("SolomonIslandNewCaledonia", "Asia/Magadan"),
    ("MidAtlantic", "America/Noronha"),
    ("MidwayIslandAndSamoa", "Pacific/Apia"),
    ("MoscowStPetersburgVolgograd", "Europe/Moscow"),
    ("MountainTimeUSCanada", "America/Denver"),
    ("Nairobi", "Africa/Nairobi"),
    ("Newfoundland", "America/St_Johns"),
    ("Nukualofa", "Pacific/Tongatapu"),
    ("OsakaSapporoTokyo", "Asia/Tokyo"),
    ("PacificTimeUSCanadaTijuana", "America/Los_Angeles"),
    ("Perth", "Australia/Perth"),
    ("Rangoon", "Asia/Yangon"),
    ("Santiago", "America/Santiago"),
    ("SarajevoSkopjeWarsawZagreb", "Europe/Warsaw"),
    ("Saskatchewan", "America/Regina"),
    ("Seoul", "Asia/Seoul"),
    ("SriJayawardenepura", "Asia/Colombo"),
    ("Taipei", "Asia/Taipei"),
    ("Tehran", "Asia/Tehran"),
    ("Vladivostok", "Asia/Vladivostok"),
    ("WestCentralAfrica", "Africa/Lagos"),
    ("Yakutsk", "Asia/Yakutsk"),
    ("EasternTime_US_Canada", "America/New_York"),
    ("CentralTime_US_Canada", "America/Chicago"),
    ("MountainTime_US_Canada", "America/Denver"),
];

fn norm(s: &str) -> String {
    s.chars()
        .filter(|c| *c != '_')
        .flat_map(char::to_lowercase)
        .collect()
}

/// The IANA zone of a Microsoft `TimeZone` value, if it is one attrsync knows.
pub fn iana(value: &str) -> Option<&'static str> {
    let v = norm(value.trim().trim_start_matches("TimeZone."));
    ZONES.iter().find(|(m, _)| norm(m) == v).map(|(_, z)| *z)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_mapped_zone_exists_and_spellings_match() {
        for (m, z) in ZONES {
            assert!(jiff::tz::TimeZone::get(z).is_ok(), "{m} → {z}");
        }
        assert_eq!(
            iana("PacificTimeUSCanadaTijuana"),
            Some("America/Los_Angeles")
        );
        assert_eq!(iana("Almaty_Novosibirsk"), iana("AlmatyNovosibirsk"));
        assert_eq!(iana("TimeZone.Seoul"), Some("Asia/Seoul"));
        assert_eq!(iana("Atlantis"), None);
    }
}
