class Atlas {}
