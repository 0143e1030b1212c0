name := "tickets"
