-- An enrolment without a hardware id looks for its device by serial number among
-- the devices without one first (DeviceBySerial). devices_live_serial holds every
-- live device with a serial number, so when thousands of machines with hardware ids
-- share a placeholder serial ("Default string"), that first step read all of them
-- to find none: a parallel sequential scan of 40 ms at 200,000. This index holds
-- only the devices without a hardware id, few in most fleets.
CREATE INDEX devices_live_serial_bare ON devices (account_id, serial_number)
    WHERE serial_number <> '' AND hardware_id = '' AND deleted_at IS NULL;
